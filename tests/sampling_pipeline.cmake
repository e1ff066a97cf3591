ls_test(NAME test_sampling_pipeline SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sampling/test_sampling_pipeline.cpp
        MODULES pipeline)
target_compile_definitions(test_sampling_pipeline PRIVATE LS_CLI_PATH="$<TARGET_FILE:lorastack_cli>")
add_dependencies(test_sampling_pipeline lorastack_cli)
