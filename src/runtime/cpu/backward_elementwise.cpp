// Adjoints of the element-wise, reduction, resampling and embedding ops, and the AdamW update.
// Derivatives: SiLU σ(x)(1 + x(1 − σ(x))); exact GELU Φ(x) + x·φ(x); QuickGELU s + 1.702·x·s(1 − s) with
// s = σ(1.702x); softmax gx = y ⊙ (gy − Σ gy⊙y). Computed in double per element for accuracy.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/cpu/backward.h"
#include "runtime/error.h"

namespace ls::cpu {
namespace {

constexpr int64_t kParallel = 1 << 15;

double gelu_grad(double x) {
  const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
  const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
  return cdf + x * pdf;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

void sum_leading(const float* x, float* y, int64_t rows, int64_t cols) {
  const int nt = threads();
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(nt) if (rows * cols > kParallel)
  for (int64_t bi = 0; bi < blocks; ++bi) {
    const int64_t c0 = bi * kBlock, c1 = std::min(cols, c0 + kBlock);
    double acc[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += x[r * cols + c];
    for (int64_t c = c0; c < c1; ++c) y[c] = static_cast<float>(acc[c - c0]);
  }
}

void sum_trailing(const float* x, float* y, int64_t outer, int64_t inner) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (outer * inner > kParallel && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    double acc = 0.0;
    const float* p = x + o * inner;
    for (int64_t i = 0; i < inner; ++i) acc += p[i];
    y[o] = static_cast<float>(acc);
  }
}

void upsample_nearest2x_backward(const float* gy, float* gx, int64_t planes, int64_t h, int64_t w) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (planes * h * w > kParallel)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t yy = 0; yy < h; ++yy) {
      const float* r0 = gy + (p * 2 * h + 2 * yy) * 2 * w;
      const float* r1 = r0 + 2 * w;
      float* out = gx + (p * h + yy) * w;
      for (int64_t xx = 0; xx < w; ++xx) out[xx] = r0[2 * xx] + r0[2 * xx + 1] + r1[2 * xx] + r1[2 * xx + 1];
    }
}

void crop(const float* x, float* y, int64_t planes, int64_t xh, int64_t xw, int64_t h, int64_t w) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (planes * h * w > kParallel)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < h; ++r)
      std::memcpy(y + (p * h + r) * w, x + (p * xh + r) * xw, static_cast<size_t>(w) * sizeof(float));
}

void unary_backward(Unary f, const float* x, const float* gy, float* gx, int64_t n) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    double d = 0.0;
    switch (f) {
      case Unary::SiLU: {
        const double s = sigmoid(v);
        d = s * (1.0 + v * (1.0 - s));
        break;
      }
      case Unary::GELU: d = gelu_grad(v); break;
      case Unary::QuickGELU: {
        const double s = sigmoid(1.702 * v);
        d = s + 1.702 * v * s * (1.0 - s);
        break;
      }
    }
    gx[i] = static_cast<float>(gy[i] * d);
  }
}

void geglu_backward(const float* x, const float* gy, float* gx, int64_t rows, int64_t c) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (rows * c > kParallel)
  for (int64_t r = 0; r < rows; ++r) {
    const float* value = x + r * 2 * c;
    const float* gate = value + c;
    float* gv = gx + r * 2 * c;
    float* gg = gv + c;
    for (int64_t i = 0; i < c; ++i) {
      const double g = gate[i], cdf = 0.5 * std::erfc(-g / std::sqrt(2.0));
      gv[i] = static_cast<float>(gy[r * c + i] * g * cdf);
      gg[i] = static_cast<float>(gy[r * c + i] * value[i] * gelu_grad(g));
    }
  }
}

void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (rows * cols > kParallel)
  for (int64_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* gr = gy + r * cols;
    double dot = 0.0;
    for (int64_t i = 0; i < cols; ++i) dot += static_cast<double>(yr[i]) * gr[i];
    for (int64_t i = 0; i < cols; ++i) gx[r * cols + i] = static_cast<float>(yr[i] * (gr[i] - dot));
  }
}

void embedding_backward(const float* gy, const void* ids, bool is_i64, int64_t n, int64_t c, int64_t vocab,
                        float* gtable) {
  std::memset(gtable, 0, static_cast<size_t>(vocab * c) * sizeof(float));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = is_i64 ? static_cast<const int64_t*>(ids)[i] : static_cast<const int32_t*>(ids)[i];
    if (id < 0 || id >= vocab) fail("embedding_backward: id {} at position {} outside [0, {})", id, i, vocab);
    float* row = gtable + id * c;
    for (int64_t j = 0; j < c; ++j) row[j] += gy[i * c + j];
  }
}

void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int64_t step) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (n > kParallel)
  for (int64_t i = 0; i < n; ++i) {
    m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
    v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
    const double mh = m[i] / bc1, vh = v[i] / bc2;
    // torch.optim.AdamW: decoupled decay first (p *= 1 − lr·wd), then the Adam step
    const double pd = p[i] * (1.0 - static_cast<double>(lr) * weight_decay);
    p[i] = static_cast<float>(pd - lr * mh / (std::sqrt(vh) + eps));
  }
}

}  // namespace ls::cpu
