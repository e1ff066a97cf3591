# The `lorastack` command as a user runs it: the built binary on the tiny refsuite model (generate batches, name
# patterns, formats, --xy grids, block weights, help and errors, --version, train --resume errors), and the grid /
# label drawing it uses.
ls_test(NAME test_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli.cpp ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_grid.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_cli_ux.cpp MODULES runtime io image toolbox)
target_compile_definitions(test_cli PRIVATE LS_CLI_PATH="$<TARGET_FILE:lorastack_cli>"
                           LS_PROJECT_VERSION="${PROJECT_VERSION}")
add_dependencies(test_cli lorastack_cli)
