// 2-D convolution as GEMM (Chellapilla et al. 2006, "High performance convolutional neural networks for
// document processing"): per sample and group, im2col of a tile of output rows into a bounded buffer,
// then y_tile[og, T] = W[og, cg·kh·kw] · col[cg·kh·kw, T]. 1×1 stride-1 unpadded convs skip im2col.
#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/cpu/backward.h"
#include "runtime/cpu/kernels.h"

namespace ls::cpu {
namespace {

/// Bytes of one im2col tile: cache-sized for few threads (measured on one core, 320 ch 3×3 at 64×64:
/// 4 MB tiles 86 ms, 16 MB 91 ms, 64 MB 109 ms vs 78 ms for the bare GEMM), wider for many threads so
/// each GEMM still has enough columns to split.
int64_t col_budget_bytes() {
  const int64_t mb = std::clamp<int64_t>(2 * threads(), 4, 32);
  return mb << 20;
}


}  // namespace

/// col[kk, (oy − oy0)·ow + ox] for output rows [oy0, oy1) of one group's input planes xg [cg, h, w].
void im2col_rows(const float* xg, float* col, const ConvShape& s, int64_t cg, int64_t oy0, int64_t oy1) {
  const int64_t kk_total = cg * s.kh * s.kw;
  const int64_t rows = oy1 - oy0, cols = rows * s.ow;
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) collapse(2) if (kk_total * cols > 32768)
  for (int64_t kk = 0; kk < kk_total; ++kk) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t ci = kk / (s.kh * s.kw), ky = (kk / s.kw) % s.kh, kx = kk % s.kw;
      const int64_t oy = oy0 + r;
      const int64_t iy = oy * s.stride - s.pad + ky;
      float* dst = col + kk * cols + r * s.ow;
      if (iy < 0 || iy >= s.h) {
        std::fill(dst, dst + s.ow, 0.0f);
        continue;
      }
      const float* src = xg + (ci * s.h + iy) * s.w;
      // valid ox: 0 ≤ ox·stride − pad + kx < w
      const int64_t off = kx - s.pad;
      int64_t lo = off >= 0 ? 0 : (-off + s.stride - 1) / s.stride;
      int64_t hi = s.w - off <= 0 ? 0 : (s.w - off + s.stride - 1) / s.stride;  // first ox with ix ≥ w
      lo = std::min(lo, s.ow);
      hi = std::clamp(hi, lo, s.ow);
      std::fill(dst, dst + lo, 0.0f);
      if (s.stride == 1) {
        std::memcpy(dst + lo, src + lo + off, static_cast<size_t>(hi - lo) * sizeof(float));
      } else {
        for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[ox * s.stride + off];
      }
      std::fill(dst + hi, dst + s.ow, 0.0f);
    }
  }
}

void conv2d(const float* x, const float* weight, const float* bias, float* y, const ConvShape& s) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups;
  const int64_t kdim = cg * s.kh * s.kw;
  const int64_t ohw = s.oh * s.ow, hw = s.h * s.w;
  const int nt = threads();
  float beta = 0.0f;
  if (bias) {
#pragma omp parallel for schedule(static) num_threads(nt) collapse(2) if (s.n * s.o * ohw > 65536)
    for (int64_t i = 0; i < s.n; ++i)
      for (int64_t oc = 0; oc < s.o; ++oc) std::fill_n(y + (i * s.o + oc) * ohw, ohw, bias[oc]);
    beta = 1.0f;
  }
  const bool pointwise = s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0;
  if (pointwise) {
    for (int64_t i = 0; i < s.n; ++i)
      for (int g = 0; g < s.groups; ++g)
        sgemm(false, false, og, hw, cg, 1.0f, weight + g * og * cg, cg, x + (i * s.c + g * cg) * hw, hw, beta,
              y + (i * s.o + g * og) * ohw, ohw);
    return;
  }
  const int64_t row_bytes = kdim * s.ow * static_cast<int64_t>(sizeof(float));
  const int64_t tile_rows = std::clamp<int64_t>(col_budget_bytes() / std::max<int64_t>(row_bytes, 1), 1, s.oh);
  std::vector<float> col(static_cast<size_t>(kdim * tile_rows * s.ow));
  for (int64_t i = 0; i < s.n; ++i) {
    for (int g = 0; g < s.groups; ++g) {
      const float* xg = x + (i * s.c + g * cg) * hw;
      const float* wg = weight + g * og * kdim;
      float* yg = y + (i * s.o + g * og) * ohw;
      for (int64_t oy0 = 0; oy0 < s.oh; oy0 += tile_rows) {
        const int64_t oy1 = std::min(oy0 + tile_rows, s.oh);
        const int64_t cols = (oy1 - oy0) * s.ow;
        im2col_rows(xg, col.data(), s, cg, oy0, oy1);
        sgemm(false, false, og, cols, kdim, 1.0f, wg, kdim, col.data(), cols, beta, yg + oy0 * s.ow, ohw);
      }
    }
  }
}

}  // namespace ls::cpu
