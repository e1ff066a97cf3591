# bench_cuda_train: one SD1.5 LoRA training step (rank 16, batch 4, 512², bf16) on the CUDA backend; the
# PyTorch + PEFT side is bench/peft_train_compare.py, run in the same GPU call.
if(LORASTACK_HAS_CUDA)
  add_executable(bench_cuda_train ${CMAKE_CURRENT_SOURCE_DIR}/bench_cuda_train.cpp)
  target_link_libraries(bench_cuda_train PRIVATE lorastack)
  target_compile_definitions(bench_cuda_train PRIVATE LORASTACK_HAS_CUDA=1)
endif()
