ls_test(NAME test_runtime SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_tensor.cpp MODULES runtime)
ls_test(NAME test_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_ops.cpp MODULES runtime io)
