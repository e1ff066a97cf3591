ls_test(NAME test_pipeline SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_engine.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_lora_tags.cpp ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_limits.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/pipeline/test_parameters.cpp
        MODULES pipeline)
target_compile_definitions(test_pipeline PRIVATE LS_CLI_PATH="$<TARGET_FILE:lorastack_cli>"
                           LS_PROJECT_VERSION="${PROJECT_VERSION}")
add_dependencies(test_pipeline lorastack_cli)
