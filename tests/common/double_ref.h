// Double-precision references shared by the gradient tests (CPU: tests/runtime/test_backward_fp64.cpp; GPU:
// tests/gpu/test_cuda_backward.cpp): naive forwards of the ops in double, and vector-Jacobian products by central
// finite differences of them (h = 1e-5: truncation and rounding error ~1e-9 relative).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "runtime/cpu/kernels.h"

namespace ls::testing {

using Vec = std::vector<double>;

/// max|got − ref| / max|ref| (NaN → infinity); also checks the element count.
inline double rel(const Vec& got, const Vec& ref) {
  EXPECT_EQ(got.size(), ref.size());
  if (got.size() != ref.size()) return INFINITY;
  double md = 0, mr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::fabs(got[i] - ref[i]);
    md = std::isnan(d) ? INFINITY : std::max(md, d);
    mr = std::max(mr, std::fabs(ref[i]));
  }
  return md / std::max(mr, 1e-30);
}
/// Σ_j gy_j ∂f_j/∂in[which]_i by central differences of the double forward f.
inline Vec fd_vjp(const std::function<Vec(const std::vector<Vec>&)>& f, std::vector<Vec> in, int which, const Vec& gy,
           double h = 1e-5) {
  Vec g(in[which].size());
  for (size_t i = 0; i < g.size(); ++i) {
    const double save = in[which][i];
    in[which][i] = save + h;
    const Vec a = f(in);
    in[which][i] = save - h;
    const Vec b = f(in);
    in[which][i] = save;
    double s = 0;
    for (size_t j = 0; j < gy.size(); ++j) s += gy[j] * (a[j] - b[j]);
    g[i] = s / (2 * h);
  }
  return g;
}

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double unary_ref(cpu::Unary f, double x) {
  switch (f) {
    case cpu::Unary::SiLU: return x * sigmoid(x);
    case cpu::Unary::GELU: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case cpu::Unary::QuickGELU: return x * sigmoid(1.702 * x);
  }
  return 0;
}

/// torch.nn.functional.conv2d in double, NCHW.
inline Vec conv_ref(const Vec& x, const Vec& w, const cpu::ConvShape& s) {
  Vec y(s.n * s.o * s.oh * s.ow, 0.0);
  const int64_t cg = s.c / s.groups, og = s.o / s.groups;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t o = 0; o < s.o; ++o)
      for (int64_t oy = 0; oy < s.oh; ++oy)
        for (int64_t ox = 0; ox < s.ow; ++ox) {
          double acc = 0;
          const int64_t g = o / og;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t iy = oy * s.stride - s.pad + ky, ix = ox * s.stride - s.pad + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                acc += w[((o * cg + ci) * s.kh + ky) * s.kw + kx] * x[((n * s.c + g * cg + ci) * s.h + iy) * s.w + ix];
              }
          y[((n * s.o + o) * s.oh + oy) * s.ow + ox] = acc;
        }
  return y;
}

inline cpu::ConvShape conv_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t k, int stride, int pad,
                          int groups) {
  return {n, c, h, w, o, k, k, (h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1, stride, pad, groups};
}

/// group_norm (+ SiLU) in double; x [n, c, hw].
inline Vec group_norm_ref(const Vec& x, const Vec& g, const Vec& b, int64_t n, int64_t c, int groups, double eps, bool silu) {
  const int64_t hw = x.size() / (n * c), cg = c / groups, len = cg * hw;
  Vec y(x.size());
  for (int64_t i = 0; i < n * groups; ++i) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < len; ++j) m += x[i * len + j];
    m /= len;
    for (int64_t j = 0; j < len; ++j) v += (x[i * len + j] - m) * (x[i * len + j] - m);
    v /= len;
    for (int64_t j = 0; j < len; ++j) {
      const int64_t ch = (i % groups) * cg + j / hw;
      const double z = (x[i * len + j] - m) / std::sqrt(v + eps) * g[ch] + b[ch];
      y[i * len + j] = silu ? z * sigmoid(z) : z;
    }
  }
  return y;
}

inline Vec layer_norm_ref(const Vec& x, const Vec& g, const Vec& b, double eps) {
  const int64_t c = g.size(), rows = x.size() / c;
  Vec y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < c; ++j) m += x[r * c + j];
    m /= c;
    for (int64_t j = 0; j < c; ++j) v += (x[r * c + j] - m) * (x[r * c + j] - m);
    v /= c;
    for (int64_t j = 0; j < c; ++j) y[r * c + j] = (x[r * c + j] - m) / std::sqrt(v + eps) * g[j] + b[j];
  }
  return y;
}

inline Vec softmax_ref(const Vec& x, int64_t cols) {
  Vec y(x.size());
  for (size_t r = 0; r < x.size() / cols; ++r) {
    double mx = -INFINITY, s = 0;
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, x[r * cols + j]);
    for (int64_t j = 0; j < cols; ++j) s += std::exp(x[r * cols + j] - mx);
    for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = std::exp(x[r * cols + j] - mx) / s;
  }
  return y;
}

/// SDPA in double: q [b, lq, h·d], k/v [b, lk, h·d].
inline Vec attention_ref(const Vec& q, const Vec& k, const Vec& v, int64_t b, int64_t lq, int64_t lk, int64_t heads,
                  bool causal) {
  const int64_t hd = q.size() / (b * lq), d = hd / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Vec o(q.size(), 0.0), p(lk);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < lq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < lk; ++j) {
          double s = 0;
          for (int64_t e = 0; e < d; ++e) s += q[(bi * lq + i) * hd + h * d + e] * k[(bi * lk + j) * hd + h * d + e];
          p[j] = (causal && j > i) ? -INFINITY : s * scale;
          mx = std::max(mx, p[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < lk; ++j) sum += (p[j] = std::exp(p[j] - mx));
        for (int64_t j = 0; j < lk; ++j)
          for (int64_t e = 0; e < d; ++e) o[(bi * lq + i) * hd + h * d + e] += p[j] / sum * v[(bi * lk + j) * hd + h * d + e];
      }
  return o;
}

}  // namespace ls::testing
