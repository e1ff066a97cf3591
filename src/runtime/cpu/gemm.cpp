// Matrix products on OpenBLAS (cblas_sgemm). Row-major throughout.
#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "runtime/cpu/kernels.h"

namespace ls::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS leaves C untouched only for beta = 1; make the empty sum explicit
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  const int nt = threads();
  auto call = [&](int64_t mm, int64_t nn, const float* aa, const float* bb, float* cc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(mm), static_cast<blasint>(nn), static_cast<blasint>(k), alpha, aa,
                static_cast<blasint>(lda), bb, static_cast<blasint>(ldb), beta, cc, static_cast<blasint>(ldc));
  };
  // Large products are split into one block of C per OpenMP thread, each a single-threaded OpenBLAS call
  // (OpenBLAS's OpenMP build runs single-threaded inside a parallel region). OpenBLAS's own threading spins in
  // sched_yield while libgomp's idle workers spin too; on a busy 2-core machine the two fought for the cores
  // (emoji-model training step, batch 16, beside one busy process: 0.20 it/s before this split, 0.45 after,
  // 0.90 with OMP_WAIT_POLICY=PASSIVE as well, which the CLI sets; idle machine 1.63 → 1.73 it/s).
  if (nt > 1 && !omp_in_parallel() && m * n * k >= (int64_t{1} << 18)) {
    const bool by_rows = m >= n;  // split the longer side of C
    const int64_t len = by_rows ? m : n, step = (len + nt - 1) / nt;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int t = 0; t < nt; ++t) {
      const int64_t lo = t * step, cnt = std::min(len, lo + step) - lo;
      if (cnt <= 0) continue;
      if (by_rows)  // rows lo.. of C and of op(A)
        call(cnt, n, trans_a ? a + lo : a + lo * lda, b, c + lo * ldc);
      else  // columns lo.. of C and of op(B)
        call(m, cnt, a, trans_b ? b + lo * ldb : b + lo, c + lo);
    }
    return;
  }
  call(m, n, a, b, c);
}

void batched_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha,
                    const float* a, const float* b, float* c) {
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const int64_t sa = m * k, sb = k * n, sc = m * n;
  const int nt = threads();
  // Many small products: one per OpenMP thread (OpenBLAS runs single-threaded inside a parallel region).
  // Few large ones: one after the other, each using OpenBLAS's own threads.
  const bool outer_parallel = batch >= nt && m * n * k < (int64_t{1} << 24);
  if (outer_parallel) {
#pragma omp parallel for schedule(dynamic) num_threads(nt)
    for (int64_t i = 0; i < batch; ++i)
      sgemm(trans_a, trans_b, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, 0.0f, c + i * sc, n);
  } else {
    for (int64_t i = 0; i < batch; ++i)
      sgemm(trans_a, trans_b, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, 0.0f, c + i * sc, n);
  }
}

void linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t in, int64_t out) {
  float beta = 0.0f;
  if (bias) {
    const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (m * out > 65536)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < out; ++j) y[i * out + j] = bias[j];
    beta = 1.0f;
  }
  sgemm(false, true, m, out, in, 1.0f, x, in, w, in, beta, y, out);
}

}  // namespace ls::cpu
