// Row-major GEMM on cuBLAS (runtime/cuda/common.h). cuBLAS is column-major: a row-major C = op(A)·op(B) is
// the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so the operands are passed swapped with their row-major leading
// dimensions. Compute type CUBLAS_COMPUTE_32F with the default math mode: F32 inputs never use TF32; F16 /
// BF16 inputs use the tensor cores with fp32 accumulation.
#ifdef LORASTACK_HAS_CUDA

#include <cublas_v2.h>

#include <mutex>

#include "runtime/cuda/common.h"

namespace ls::cuda {
namespace {

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t x = nullptr;
    const cublasStatus_t s = cublasCreate(&x);
    if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS: cublasCreate failed: {}", cublasGetStatusString(s));
    cublasSetMathMode(x, CUBLAS_DEFAULT_MATH);  // no TF32 for F32 inputs
    cublasSetStream(x, nullptr);
    return x;
  }();
  return h;
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
    default: fail("cuBLAS: dtype {} is not a compute dtype", dtype_name(t));
  }
}

}  // namespace

void gemm(DType ab, DType c, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a,
          int64_t lda, int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b, float beta, void* cmat,
          int64_t ldc, int64_t stride_c, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  const cublasStatus_t s = cublasGemmStridedBatchedEx(
      handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
      static_cast<int>(m), static_cast<int>(k), &alpha, b, cuda_type(ab), static_cast<int>(ldb), stride_b, a,
      cuda_type(ab), static_cast<int>(lda), stride_a, &beta, cmat, cuda_type(c), static_cast<int>(ldc), stride_c,
      static_cast<int>(batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (s != CUBLAS_STATUS_SUCCESS)
    fail("cuBLAS: GEMM {}×{}×{} (batch {}, {}) failed: {}", m, n, k, batch, dtype_name(ab), cublasGetStatusString(s));
}

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
