# io + model loading: safetensors / pickle / ckpt readers, SD1 key maps, loader, model init.
ls_test(NAME test_io
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/io/test_loader.cpp ${CMAKE_CURRENT_SOURCE_DIR}/io/test_keymap.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/io/test_malformed.cpp ${CMAKE_CURRENT_SOURCE_DIR}/io/test_pickle.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/io/test_init.cpp
  MODULES runtime io models)
