// Internal helpers shared by the CUDA backend's host files (memory.cpp, ops.cpp, gemm.cpp): error checks and
// the cuBLAS entry point. Not part of the backend's interface (that is backend.h).
#pragma once

#ifdef LORASTACK_HAS_CUDA

#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "runtime/cuda/kernels.h"
#include "runtime/tensor.h"

namespace ls::cuda {

/// Throws ls::Error "CUDA: <what> failed: <message>" unless e == cudaSuccess.
void check(cudaError_t e, const char* what);

/// The kernels' element type for a compute dtype; throws ls::Error naming `op` for other dtypes.
inline k::Elem elem(DType t, const char* op = "op") {
  switch (t) {
    case DType::F32: return k::Elem::F32;
    case DType::F16: return k::Elem::F16;
    case DType::BF16: return k::Elem::BF16;
    default: fail("CUDA {}: dtype {} is not a compute dtype (F32, F16, BF16)", op, dtype_name(t));
  }
}

/// `t` on the device in dtype `dt` (uploaded / converted when needed; the same tensor otherwise; undefined stays
/// undefined).
inline Tensor on_device(const Tensor& t, DType dt) {
  if (!t.defined()) return t;
  return t.to_device(Device::CUDA).to(dt);
}

/// The compute dtype of an op: that of the first CUDA tensor among `ts`, F32 if none.
inline DType compute_dtype(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && t->device() == Device::CUDA) return t->dtype();
  return DType::F32;
}

/// An uninitialised CUDA tensor (caching allocator).
inline Tensor out(const Shape& s, DType dt) { return Tensor::empty(s, dt, Device::CUDA); }

/// Row-major strided-batched GEMM through cuBLAS: for i < batch,
/// C_i[m, n] = alpha · op(A_i)[m, k] · op(B_i)[k, n] + beta · C_i, with A_i = a + i·stride_a (elements), etc.
/// A and B have dtype `ab`, C dtype `c` (F32, or equal to ab); fp32 accumulation always, no TF32.
/// Leading dimensions are row-major (elements between rows as stored). Throws ls::Error on a cuBLAS error.
void gemm(DType ab, DType c, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a,
          int64_t lda, int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b, float beta, void* cmat,
          int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
