ls_test(NAME test_toolbox SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_inspect.cpp
        MODULES runtime io models adapters toolbox)
