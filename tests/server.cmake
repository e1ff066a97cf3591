# issue 10: `lorastack serve` — API tests against a real server on 127.0.0.1 (in-process), the load test (the
# `lorastack` binary as a child process), and real clients nobody here wrote: the official openai npm SDK,
# A1111-shaped requests, and headless Chromium (playwright-core) on the web page (tests/server/js).
ls_test(NAME test_server SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/test_api.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/server/test_units.cpp ${CMAKE_CURRENT_SOURCE_DIR}/server/test_a1111_compat.cpp
        MODULES server LABELS server)
target_compile_definitions(test_server PRIVATE LS_PROJECT_VERSION="${PROJECT_VERSION}")

ls_test(NAME test_server_load SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/server/test_load.cpp MODULES server
        LABELS "server;load")
target_compile_definitions(test_server_load PRIVATE LS_CLI_PATH="$<TARGET_FILE:lorastack_cli>")
add_dependencies(test_server_load lorastack_cli)

# Node clients: `npm ci` once (fixture), then one ctest per client script. Skipped (exit 77) only when node is
# not installed; CI has node and npm.
set(server_js ${CMAKE_CURRENT_SOURCE_DIR}/server/js)
add_test(NAME server_js_npm_ci COMMAND sh ${server_js}/npm-ci.sh ${server_js})
set_tests_properties(server_js_npm_ci PROPERTIES FIXTURES_SETUP server_js SKIP_RETURN_CODE 77 LABELS server
                     TIMEOUT 300)
foreach(client openai a1111 browser)
  add_test(NAME server_js_${client}
           COMMAND sh ${server_js}/run.sh ${server_js}/${client}.test.mjs)
  set_tests_properties(server_js_${client} PROPERTIES FIXTURES_REQUIRED server_js SKIP_RETURN_CODE 77
                       LABELS server TIMEOUT 300
                       ENVIRONMENT "LS_CLI=$<TARGET_FILE:lorastack_cli>;LS_SHARED_DIR=${LORASTACK_SHARED_DIR};LS_BINARY_DIR=${PROJECT_BINARY_DIR}")
endforeach()
