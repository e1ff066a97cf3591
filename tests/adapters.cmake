ls_test(NAME test_adapters SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/adapters/test_adapters.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/adapters/test_adapters_garbage.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/adapters/test_adapters_spec.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/adapters/test_adapters_forward.cpp MODULES runtime io models adapters)
