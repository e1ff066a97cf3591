# bench_cuda_sd15: SD1.5 UNet step (CFG batch 2) and VAE decode at 512×512 on the CUDA backend, fp32 / fp16 /
# bf16. A plain program (no Google Benchmark) so it runs on the GPU machine with few libraries.
if(LORASTACK_HAS_CUDA)
  ls_collect(bench_cuda_mods models sampling)
  add_executable(bench_cuda_sd15 ${CMAKE_CURRENT_SOURCE_DIR}/bench_cuda_sd15.cpp)
  target_link_libraries(bench_cuda_sd15 PRIVATE ${bench_cuda_mods})
endif()
# bench_cuda_pipeline: Engine::generate end to end on the CUDA backend (images/s at batch 1 and 4) and one UNet
# step, on a `lorastack model init` model; bench/diffusers_compare.py runs it beside diffusers.
if(LORASTACK_HAS_CUDA)
  add_executable(bench_cuda_pipeline ${CMAKE_CURRENT_SOURCE_DIR}/bench_cuda_pipeline.cpp)
  target_link_libraries(bench_cuda_pipeline PRIVATE lorastack)
  target_compile_definitions(bench_cuda_pipeline PRIVATE LORASTACK_HAS_CUDA=1)
endif()
