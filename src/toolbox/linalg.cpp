#include "toolbox/linalg.h"

#ifdef LORASTACK_HAS_CUDA
#include "runtime/cuda/backend.h"
#endif

#include <lapacke.h>

#include <algorithm>
#include <cmath>

#include "runtime/ops.h"

namespace ls::toolbox {

namespace {
thread_local Device t_svd_device = Device::CPU;
}  // namespace

void set_svd_device(Device d) {
#ifndef LORASTACK_HAS_CUDA
  LS_CHECK(d == Device::CPU, "--device cuda: this lorastack was built without the CUDA backend");
#endif
  t_svd_device = d;
}

SVD svd(const Tensor& a) {
  LS_CHECK(a.defined() && a.ndim() >= 1 && a.numel() > 0, "svd: empty matrix {}", shape_str(a.shape()));
  SVD s;
  s.m = a.dim(0);
  s.n = a.numel() / s.m;
  s.k = std::min(s.m, s.n);
  Tensor f = a.to(DType::F32);
  std::vector<double> A(f.numel());
  const float* p = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) {
    LS_CHECK(std::isfinite(p[i]), "svd: matrix {} holds {} at element {}", shape_str(a.shape()), p[i], i);
    A[i] = p[i];
  }
#ifdef LORASTACK_HAS_CUDA
  if (t_svd_device == Device::CUDA) {
    cuda::svd(A, s.m, s.n, s.U, s.S, s.Vt);
    return s;
  }
#endif
  s.U.resize(s.m * s.k);
  s.S.resize(s.k);
  s.Vt.resize(s.k * s.n);
  lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', static_cast<lapack_int>(s.m), static_cast<lapack_int>(s.n),
                                   A.data(), static_cast<lapack_int>(s.n), s.S.data(), s.U.data(),
                                   static_cast<lapack_int>(s.k), s.Vt.data(), static_cast<lapack_int>(s.n));
  LS_CHECK(info == 0, "svd: LAPACK dgesdd failed on a {}×{} matrix (info {})", s.m, s.n, static_cast<int>(info));
  return s;
}

void truncate(const SVD& s, int64_t r, Tensor& up, Tensor& down) {
  LS_CHECK(r >= 1 && r <= s.k, "svd: rank {} outside [1, {}]", r, s.k);
  up = Tensor::empty({s.m, r});
  down = Tensor::empty({r, s.n});
  float* u = up.data<float>();
  float* d = down.data<float>();
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < r; ++j) u[i * r + j] = static_cast<float>(s.U[i * s.k + j] * s.S[j]);
  for (int64_t j = 0; j < r; ++j)
    for (int64_t c = 0; c < s.n; ++c) d[j * s.n + c] = static_cast<float>(s.Vt[j * s.n + c]);
}

double quantile(std::vector<float> v, double q) {
  LS_CHECK(!v.empty(), "quantile of an empty set");
  LS_CHECK(q >= 0.0 && q <= 1.0, "quantile {} outside [0, 1]", q);
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  double t = pos - static_cast<double>(lo);
  return static_cast<double>(v[lo]) + t * (static_cast<double>(v[hi]) - static_cast<double>(v[lo]));
}

Tensor lowrank_product(const Tensor& up, const Tensor& down) {
  int64_t r = down.dim(0);
  LS_CHECK(up.numel() == up.dim(0) * r, "lowrank_product: up {} does not match rank {} of down {}",
           shape_str(up.shape()), r, shape_str(down.shape()));
  Tensor u = up.to(DType::F32).reshape({up.dim(0), r});
  Tensor d = down.to(DType::F32).reshape({r, down.numel() / r});
  return ops::matmul(u, d);
}

}  // namespace ls::toolbox
