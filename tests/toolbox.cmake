ls_test(NAME test_toolbox SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_inspect.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_scan.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_convert.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_resize.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_extract.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_merge.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/toolbox/test_generate_helpers.cpp
        MODULES runtime io models adapters toolbox)
