// Private to src/runtime: what the op dispatch files (ops.cpp, ops_backward.cpp) share — the one-line CUDA branch
// and the input check every float op makes.
#pragma once

#include "runtime/error.h"
#include "runtime/tensor.h"
#ifdef LORASTACK_HAS_CUDA
#include "runtime/cuda/backend.h"
/// `if (any input on CUDA) return cuda::op(...)`: the whole CUDA dispatch of one op.
#define LS_ON_CUDA(inputs, call) \
  if (::ls::cuda::any(inputs)) return call
#else
#define LS_ON_CUDA(inputs, call) (void)0
#endif

namespace ls::ops::detail {

/// Throws unless `t` is a defined F32 tensor (on the CPU), or an F32 / F16 / BF16 tensor on CUDA.
inline void need_f32(const char* op, const char* what, const Tensor& t) {
  if (!t.defined()) fail("{}: {} is undefined", op, what);
  if (t.device() == Device::CUDA &&
      (t.dtype() == DType::F32 || t.dtype() == DType::F16 || t.dtype() == DType::BF16))
    return;
  if (t.dtype() != DType::F32)
    fail("{}: {} has dtype {}, expected F32 (convert with .to(DType::F32))", op, what, dtype_name(t.dtype()));
}

}  // namespace ls::ops::detail
