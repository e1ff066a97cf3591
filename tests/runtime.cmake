ls_test(NAME test_runtime SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_tensor.cpp MODULES runtime)
ls_test(NAME test_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_ops.cpp MODULES runtime io)
ls_test(NAME test_autograd SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_autograd.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_autograd_tape.cpp ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_backward_fp64.cpp
        MODULES runtime)
ls_test(NAME test_profile SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/runtime/test_profile.cpp MODULES runtime)
