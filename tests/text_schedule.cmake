# A1111 prompt editing / alternation schedules (src/text/prompt_schedule.h)
ls_test(NAME test_prompt_schedule SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/text/test_prompt_schedule.cpp MODULES text)
