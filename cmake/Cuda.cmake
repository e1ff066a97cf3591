# Optional CUDA backend (src/runtime/cuda/). LORASTACK_CUDA = AUTO (default: on when check_language finds
# nvcc), ON (required) or OFF. When enabled: CUDA language with CMAKE_CUDA_ARCHITECTURES 90 unless given,
# the runtime module gains src/runtime/cuda/*.cu, links CUDA::cudart and CUDA::cublas, and every module
# sees the compile definition LORASTACK_HAS_CUDA. cuDNN (convolutions, src/runtime/cuda/cudnn_conv.cpp) is
# optional on top: LORASTACK_CUDNN = AUTO (default: used when cudnn.h and libcudnn are found beside the toolkit or
# in the Debian paths), ON (required) or OFF; when used, the imported target CUDA::cudnn is linked and the
# runtime module compiles with LORASTACK_HAS_CUDNN. Nothing touches a GPU at load time, so a CUDA build runs
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

set(LORASTACK_CUDNN AUTO CACHE STRING "cuDNN convolutions in the CUDA backend: AUTO (when found), ON or OFF")
set_property(CACHE LORASTACK_CUDNN PROPERTY STRINGS AUTO ON OFF)
set(LORASTACK_HAS_CUDNN OFF)
if(LORASTACK_HAS_CUDA AND NOT LORASTACK_CUDNN STREQUAL "OFF")
  get_filename_component(ls_cuda_root "${CUDAToolkit_BIN_DIR}" DIRECTORY)
  find_path(LORASTACK_CUDNN_INCLUDE_DIR cudnn.h
    HINTS ${CUDAToolkit_INCLUDE_DIRS} "${ls_cuda_root}/include"
    PATHS /usr/include /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu)
  find_library(LORASTACK_CUDNN_LIBRARY NAMES cudnn
    HINTS "${CUDAToolkit_LIBRARY_DIR}" "${ls_cuda_root}/lib" "${ls_cuda_root}/lib64"
    PATHS /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu)
  if(LORASTACK_CUDNN_INCLUDE_DIR AND LORASTACK_CUDNN_LIBRARY)
    if(NOT TARGET CUDA::cudnn)
      add_library(CUDA::cudnn UNKNOWN IMPORTED)
      set_target_properties(CUDA::cudnn PROPERTIES IMPORTED_LOCATION "${LORASTACK_CUDNN_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${LORASTACK_CUDNN_INCLUDE_DIR}")
    endif()
    set(LORASTACK_HAS_CUDNN ON)
    message(STATUS "lorastack: cuDNN ON (${LORASTACK_CUDNN_LIBRARY})")
  elseif(LORASTACK_CUDNN STREQUAL "ON")
    message(FATAL_ERROR "LORASTACK_CUDNN=ON but cudnn.h / libcudnn were not found (set LORASTACK_CUDNN_INCLUDE_DIR and LORASTACK_CUDNN_LIBRARY)")
  else()
    message(STATUS "lorastack: cuDNN not found; convolutions use im2col + cuBLAS")
  endif()
endif()
