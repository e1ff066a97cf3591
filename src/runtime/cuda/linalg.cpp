// Dense linear algebra on the GPU through cuSOLVER (runtime/cuda/backend.h): the toolbox's SVD (lora extract /
// resize / merge with --device cuda). Row-major inputs are read as the column-major transpose, so for n ≥ m no
// copy is needed: gesvd of C = Aᵀ (n×m) gives A = V_C·Σ·U_Cᵀ, and U_C / V_Cᵀ in cuSOLVER's column-major layout are
// exactly Vt_A / U_A in row-major. For n < m the matrix is transposed on the host first.
#ifdef LORASTACK_HAS_CUDA

#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <memory>

#include "runtime/cuda/backend.h"
#include "runtime/error.h"

namespace ls::cuda {
namespace {

void check(cusolverStatus_t st, const char* what) {
  if (st != CUSOLVER_STATUS_SUCCESS) fail("cuSOLVER {} failed (status {})", what, static_cast<int>(st));
}
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA {} failed: {}", what, cudaGetErrorString(e));
}

/// SVD of a column-major rows×cols matrix (rows ≥ cols): u col-major rows×cols, s cols, vt col-major cols×cols.
void gesvd_colmajor(const std::vector<double>& a, int64_t rows, int64_t cols, std::vector<double>& u,
                    std::vector<double>& s, std::vector<double>& vt) {
  cusolverDnHandle_t h = nullptr;
  check(cusolverDnCreate(&h), "cusolverDnCreate");
  std::unique_ptr<cusolverDnContext, decltype(&cusolverDnDestroy)> guard(h, cusolverDnDestroy);
  const int r = static_cast<int>(rows), c = static_cast<int>(cols);
  auto dev = [](size_t count) {
    double* p = nullptr;
    check(cudaMalloc(&p, count * sizeof(double)), "cudaMalloc");
    return std::unique_ptr<double, decltype(&cudaFree)>(p, cudaFree);
  };
  auto dA = dev(a.size()), dS = dev(cols), dU = dev(static_cast<size_t>(rows * cols)), dVT = dev(static_cast<size_t>(cols * cols));
  check(cudaMemcpy(dA.get(), a.data(), a.size() * sizeof(double), cudaMemcpyHostToDevice), "cudaMemcpy");
  int lwork = 0;
  check(cusolverDnDgesvd_bufferSize(h, r, c, &lwork), "gesvd_bufferSize");
  auto work = dev(static_cast<size_t>(lwork)), rwork = dev(static_cast<size_t>(c));
  int* info_d = nullptr;
  check(cudaMalloc(&info_d, sizeof(int)), "cudaMalloc");
  std::unique_ptr<int, decltype(&cudaFree)> info_guard(info_d, cudaFree);
  signed char job = 'S';
  check(cusolverDnDgesvd(h, job, job, r, c, dA.get(), r, dS.get(), dU.get(), r, dVT.get(), c, work.get(), lwork,
                         rwork.get(), info_d),
        "gesvd");
  int info = 0;
  check(cudaMemcpy(&info, info_d, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy");
  if (info != 0) fail("cuSOLVER gesvd on a {}×{} matrix did not converge (info {})", rows, cols, info);
  u.resize(static_cast<size_t>(rows * cols));
  s.resize(static_cast<size_t>(cols));
  vt.resize(static_cast<size_t>(cols * cols));
  check(cudaMemcpy(u.data(), dU.get(), u.size() * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
  check(cudaMemcpy(s.data(), dS.get(), s.size() * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
  check(cudaMemcpy(vt.data(), dVT.get(), vt.size() * sizeof(double), cudaMemcpyDeviceToHost), "cudaMemcpy");
}

}  // namespace

void svd(const std::vector<double>& a, int64_t m, int64_t n, std::vector<double>& U, std::vector<double>& S,
         std::vector<double>& Vt) {
  if (m < 1 || n < 1 || static_cast<int64_t>(a.size()) != m * n) fail("svd: bad matrix {}×{}", m, n);
  if (n >= m) {
    // row-major A (m×n) = column-major C = Aᵀ (n×m), n ≥ m: A = V_C Σ U_Cᵀ
    gesvd_colmajor(a, n, m, Vt, S, U);  // U_C (col-major n×m) is Vt_A row-major; V_Cᵀ (col-major m×m) is U_A
    return;
  }
  // m > n: transpose to row-major Aᵀ (n×m) = column-major A (m×n): A = U Σ Vᵀ, then re-layout
  std::vector<double> at(a.size());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) at[static_cast<size_t>(j * m + i)] = a[static_cast<size_t>(i * n + j)];
  std::vector<double> u, vt;
  gesvd_colmajor(at, m, n, u, S, vt);  // u col-major m×n, vt col-major n×n
  U.resize(static_cast<size_t>(m * n));
  Vt.resize(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) U[static_cast<size_t>(i * n + j)] = u[static_cast<size_t>(i + j * m)];
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) Vt[static_cast<size_t>(i * n + j)] = vt[static_cast<size_t>(i + j * n)];
}

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
