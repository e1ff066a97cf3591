# Regression tests for what the fuzzers found (tests/fuzz/README.md); the fuzz targets themselves are
# built by tests/fuzz/CMakeLists.txt when LORASTACK_FUZZ is ON.
ls_test(NAME test_fuzz_regressions SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/test_regressions.cpp
        MODULES runtime io models pipeline)
