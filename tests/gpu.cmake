# GPU tests (CUDA backend). Registered only in a CUDA build, with the ctest label `gpu`; the CPU suite
# (tools/test.sh) runs `ctest -LE gpu`, so a machine without a GPU never runs them. On the GPU machine run the
# binaries directly or `ctest -L gpu`. Fixtures: LS_SHARED_DIR at build time, or the environment variable
# LORASTACK_SHARED_DIR at run time (the GPU machine gets a copy of the few refsuite files they read).
if(LORASTACK_HAS_CUDA)
  ls_test(NAME test_cuda_ops SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_cuda_ops.cpp MODULES runtime LABELS gpu)
  ls_test(NAME test_cuda_backward SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_cuda_backward.cpp MODULES runtime
          LABELS gpu)
  ls_test(NAME test_cuda_models SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_cuda_models.cpp MODULES pipeline
          LABELS gpu)
  ls_test(NAME test_cuda_train SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_cuda_train.cpp MODULES train pipeline
          LABELS gpu)
  ls_test(NAME test_cuda_linalg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/test_cuda_linalg.cpp MODULES toolbox
          LABELS gpu)
endif()
