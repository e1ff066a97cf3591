// Adjoints of the GEMM convolution (conv.cpp): ∂L/∂x = col2im(Wᵀ·gy) and ∂L/∂W = Σ_n gy·im2col(x)ᵀ, per
// sample and group, over tiles of output rows so the column buffer stays bounded (the same decomposition
// as the forward; Chellapilla et al. 2006).
#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/cpu/backward.h"

namespace ls::cpu {
namespace {

constexpr int64_t kColBytes = 32 << 20;

int64_t tile_rows(const ConvShape& s, int64_t kdim) {
  const int64_t row_bytes = kdim * s.ow * static_cast<int64_t>(sizeof(float));
  return std::clamp<int64_t>(kColBytes / std::max<int64_t>(row_bytes, 1), 1, s.oh);
}

bool pointwise(const ConvShape& s) { return s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0; }

/// Scatter-add col[kk, (oy − oy0)·ow + ox] back into one group's planes gxg [cg, h, w] (inverse of im2col_rows).
void col2im_rows(const float* col, float* gxg, const ConvShape& s, int64_t cg, int64_t oy0, int64_t oy1) {
  const int64_t cols = (oy1 - oy0) * s.ow;
  const int nt = threads();
  // one input channel per task: its kh·kw rows of col only touch that channel's plane
#pragma omp parallel for schedule(static) num_threads(nt) if (cg * s.kh * s.kw * cols > 32768)
  for (int64_t ci = 0; ci < cg; ++ci) {
    float* plane = gxg + ci * s.h * s.w;
    for (int64_t ky = 0; ky < s.kh; ++ky)
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const float* src = col + ((ci * s.kh + ky) * s.kw + kx) * cols;
        for (int64_t r = 0; r < oy1 - oy0; ++r) {
          const int64_t iy = (oy0 + r) * s.stride - s.pad + ky;
          if (iy < 0 || iy >= s.h) continue;
          float* dst = plane + iy * s.w;
          const float* row = src + r * s.ow;
          for (int64_t ox = 0; ox < s.ow; ++ox) {
            const int64_t ix = ox * s.stride - s.pad + kx;
            if (ix >= 0 && ix < s.w) dst[ix] += row[ox];
          }
        }
      }
  }
}

}  // namespace

void conv2d_backward_input(const float* gy, const float* weight, float* gx, const ConvShape& s) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, kdim = cg * s.kh * s.kw;
  const int64_t ohw = s.oh * s.ow, hw = s.h * s.w;
  if (pointwise(s)) {
    for (int64_t i = 0; i < s.n; ++i)
      for (int g = 0; g < s.groups; ++g)
        sgemm(true, false, cg, hw, og, 1.0f, weight + g * og * cg, cg, gy + (i * s.o + g * og) * ohw, ohw, 0.0f,
              gx + (i * s.c + g * cg) * hw, hw);
    return;
  }
  std::memset(gx, 0, static_cast<size_t>(s.n * s.c * hw) * sizeof(float));
  const int64_t rows = tile_rows(s, kdim);
  std::vector<float> col(static_cast<size_t>(kdim * rows * s.ow));
  for (int64_t i = 0; i < s.n; ++i)
    for (int g = 0; g < s.groups; ++g) {
      const float* wg = weight + g * og * kdim;
      const float* gyg = gy + (i * s.o + g * og) * ohw;
      float* gxg = gx + (i * s.c + g * cg) * hw;
      for (int64_t oy0 = 0; oy0 < s.oh; oy0 += rows) {
        const int64_t oy1 = std::min(oy0 + rows, s.oh), cols = (oy1 - oy0) * s.ow;
        sgemm(true, false, kdim, cols, og, 1.0f, wg, kdim, gyg + oy0 * s.ow, ohw, 0.0f, col.data(), cols);
        col2im_rows(col.data(), gxg, s, cg, oy0, oy1);
      }
    }
}

void conv2d_backward_weight(const float* gy, const float* x, float* gw, const ConvShape& s) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, kdim = cg * s.kh * s.kw;
  const int64_t ohw = s.oh * s.ow, hw = s.h * s.w;
  std::memset(gw, 0, static_cast<size_t>(s.o * kdim) * sizeof(float));
  if (pointwise(s)) {
    for (int64_t i = 0; i < s.n; ++i)
      for (int g = 0; g < s.groups; ++g)
        sgemm(false, true, og, cg, hw, 1.0f, gy + (i * s.o + g * og) * ohw, ohw, x + (i * s.c + g * cg) * hw, hw, 1.0f,
              gw + g * og * cg, cg);
    return;
  }
  const int64_t rows = tile_rows(s, kdim);
  std::vector<float> col(static_cast<size_t>(kdim * rows * s.ow));
  for (int64_t i = 0; i < s.n; ++i)
    for (int g = 0; g < s.groups; ++g) {
      const float* xg = x + (i * s.c + g * cg) * hw;
      const float* gyg = gy + (i * s.o + g * og) * ohw;
      for (int64_t oy0 = 0; oy0 < s.oh; oy0 += rows) {
        const int64_t oy1 = std::min(oy0 + rows, s.oh), cols = (oy1 - oy0) * s.ow;
        im2col_rows(xg, col.data(), s, cg, oy0, oy1);
        sgemm(false, true, og, kdim, cols, 1.0f, gyg + oy0 * s.ow, ohw, col.data(), cols, 1.0f, gw + g * og * kdim,
              kdim);
      }
    }
}

}  // namespace ls::cpu
