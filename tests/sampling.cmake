ls_test(NAME test_sampling SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sampling/test_samplers.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/sampling/test_schedules.cpp ${CMAKE_CURRENT_SOURCE_DIR}/sampling/test_rng.cpp
        ${CMAKE_CURRENT_SOURCE_DIR}/sampling/test_k_samplers.cpp
        MODULES runtime io sampling)
# The CFG combination in the test mirrors torch's two roundings (no fused multiply-add).
target_compile_options(test_sampling PRIVATE -ffp-contract=off)
