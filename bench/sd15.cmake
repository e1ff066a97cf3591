ls_collect(sd15_mods models sampling)
add_executable(bench_sd15 ${CMAKE_CURRENT_SOURCE_DIR}/bench_sd15.cpp)
target_link_libraries(bench_sd15 PRIVATE ${sd15_mods} benchmark::benchmark)
