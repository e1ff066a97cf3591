ls_collect(lora_stack_mods adapters sampling)
add_executable(bench_lora_stack ${CMAKE_CURRENT_SOURCE_DIR}/bench_lora_stack.cpp)
target_link_libraries(bench_lora_stack PRIVATE ${lora_stack_mods} benchmark::benchmark)
