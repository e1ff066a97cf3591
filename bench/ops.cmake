# bench_ops: Google Benchmark of the hot CPU ops at SD1.5 sizes (conv2d, attention, linear, group_norm).
ls_collect(bench_ops_modules runtime)
add_executable(bench_ops ${CMAKE_CURRENT_SOURCE_DIR}/bench_ops.cpp)
target_link_libraries(bench_ops PRIVATE ${bench_ops_modules} benchmark::benchmark)
