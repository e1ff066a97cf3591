// cuDNN convolutions for the CUDA backend (cudnn_conv.cpp), internal to runtime/cuda: conv2d forward and its two
// gradients on NCHW tensors through cuDNN's legacy convolution API, and run_conv, which picks cuDNN or the
// im2col + cuBLAS path per the conv mode (backend.h). Each cudnn_* call returns false, having done nothing the
// caller relies on, when cuDNN is not built in (LORASTACK_HAS_CUDNN), failed to load, or cannot run the shape. The algorithm is found once per (direction, dtype, shape) by timing cuDNN's candidates
// (cudnnFind*AlgorithmEx, FFT algorithms excluded; for F32 only the exact GEMM-like ones, FMA math, no TF32)
// and cached; the workspace comes from the caching allocator.
#pragma once

#ifdef LORASTACK_HAS_CUDA

#include "runtime/cpu/kernels.h"
#include "runtime/tensor.h"

#include <functional>

namespace ls::cuda {

enum class ConvDir { Forward, BackwardData, BackwardFilter };

/// Computes one convolution (direction `dir`) through `cudnn` (returns false when cuDNN cannot) or `im2col`, per
/// conv_mode(): Im2col → im2col; Cudnn → cudnn, else im2col; Auto → on the first call for (dir, dt, s) both are
/// run and timed (CUDA events, after cuDNN's algorithm search and one im2col warm-up) and the faster is kept for
/// later calls. Each callable must fully overwrite the output.
void run_conv(ConvDir dir, DType dt, const cpu::ConvShape& s, const std::function<bool()>& cudnn,
              const std::function<void()>& im2col);

/// y [n, o, oh, ow] = conv2d(x [n, c, h, w], w [o, c/groups, kh, kw]) (+ bias [o] when non-null); all dtype dt.
bool cudnn_conv_forward(DType dt, const void* x, const void* w, const void* bias, void* y, const cpu::ConvShape& s);
/// gx [n, c, h, w] = ∂L/∂x from gy [n, o, oh, ow] and w (overwrites gx).
bool cudnn_conv_backward_data(DType dt, const void* gy, const void* w, void* gx, const cpu::ConvShape& s);
/// gw [o, c/groups, kh, kw] = ∂L/∂w from gy and x (overwrites gw; fp32 accumulation over the batch).
bool cudnn_conv_backward_filter(DType dt, const void* gy, const void* x, void* gw, const cpu::ConvShape& s);

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
