# Optional CUDA backend (src/runtime/cuda/). LORASTACK_CUDA = AUTO (default: on when check_language finds
# nvcc), ON (required) or OFF. When enabled: CUDA language with CMAKE_CUDA_ARCHITECTURES 90 unless given,
# the runtime module gains src/runtime/cuda/*.cu, links CUDA::cudart and CUDA::cublas, and every module
# sees the compile definition LORASTACK_HAS_CUDA. Nothing touches a GPU at load time, so a CUDA build runs
# the CPU suite on machines without one; GPU tests carry the ctest label `gpu` (tests/gpu.cmake).
set(LORASTACK_CUDA AUTO CACHE STRING "CUDA backend: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE LORASTACK_CUDA PROPERTY STRINGS AUTO ON OFF)
set(LORASTACK_HAS_CUDA OFF)
if(NOT LORASTACK_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)  # one cudart (the shared one CUDA::cudart names), not also cudart_static
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(LORASTACK_HAS_CUDA ON)
    message(STATUS "lorastack: CUDA backend ON (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, sm ${CMAKE_CUDA_ARCHITECTURES})")
  elseif(LORASTACK_CUDA STREQUAL "ON")
    message(FATAL_ERROR "LORASTACK_CUDA=ON but no CUDA compiler was found (set CUDACXX or CMAKE_CUDA_COMPILER)")
  else()
    message(STATUS "lorastack: CUDA backend OFF (no nvcc found)")
  endif()
endif()
