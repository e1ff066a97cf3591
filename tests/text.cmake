ls_test(NAME test_text
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/text/test_tokenizer.cpp ${CMAKE_CURRENT_SOURCE_DIR}/text/test_tokenizer_files.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/text/test_prompt_parser.cpp ${CMAKE_CURRENT_SOURCE_DIR}/text/test_emoji_tokenizer.cpp
  MODULES text)
