// Copying shape ops: permute, batched transpose, block copies (cat/chunk), nearest 2× upsampling and
// right/bottom zero padding. References: torch.permute(...).contiguous(), F.interpolate(mode="nearest"), F.pad.
#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/cpu/kernels.h"

namespace ls::cpu {
namespace {
constexpr int64_t kParallelMin = 32768;
}

void permute(const float* x, float* y, const int64_t* shape, const int* perm, int ndim) {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  if (n == 0) return;
  if (ndim == 0) {
    y[0] = x[0];
    return;
  }
  std::vector<int64_t> in_stride(ndim), out_shape(ndim), src_stride(ndim);
  in_stride[ndim - 1] = 1;
  for (int i = ndim - 2; i >= 0; --i) in_stride[i] = in_stride[i + 1] * shape[i + 1];
  for (int i = 0; i < ndim; ++i) {
    out_shape[i] = shape[perm[i]];
    src_stride[i] = in_stride[perm[i]];
  }
  // Each task handles one row of the output's last dimension.
  const int64_t last = out_shape[ndim - 1], rows = n / last, ls = src_stride[ndim - 1];
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (n > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, src = 0;
    for (int i = ndim - 2; i >= 0; --i) {
      src += (rem % out_shape[i]) * src_stride[i];
      rem /= out_shape[i];
    }
    float* dst = y + r * last;
    for (int64_t j = 0; j < last; ++j) dst[j] = x[src + j * ls];
  }
}

void transpose_batched(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols) {
  constexpr int64_t kB = 32;  // cache blocking
  const int64_t rb = (rows + kB - 1) / kB, cb = (cols + kB - 1) / kB;
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) collapse(3) if (batch * rows * cols > kParallelMin)
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < rb; ++i)
      for (int64_t j = 0; j < cb; ++j) {
        const float* xs = x + b * rows * cols;
        float* ys = y + b * rows * cols;
        const int64_t r1 = std::min(rows, (i + 1) * kB), c1 = std::min(cols, (j + 1) * kB);
        for (int64_t r = i * kB; r < r1; ++r)
          for (int64_t c = j * kB; c < c1; ++c) ys[c * rows + r] = xs[r * cols + c];
      }
}

void copy_blocks(const float* x, int64_t src_stride, float* y, int64_t dst_stride, int64_t outer, int64_t block) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (outer * block > kParallelMin)
  for (int64_t i = 0; i < outer; ++i)
    std::memcpy(y + i * dst_stride, x + i * src_stride, static_cast<size_t>(block) * sizeof(float));
}

void upsample_nearest2x(const float* x, float* y, int64_t planes, int64_t h, int64_t w) {
  const int64_t w2 = 2 * w;
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) collapse(2) if (planes * h * w > kParallelMin / 4)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < h; ++r) {
      const float* src = x + (p * h + r) * w;
      float* dst = y + (p * 2 * h + 2 * r) * w2;
      for (int64_t c = 0; c < w; ++c) dst[2 * c] = dst[2 * c + 1] = src[c];
      std::memcpy(dst + w2, dst, static_cast<size_t>(w2) * sizeof(float));
    }
}

void pad_right_bottom(const float* x, float* y, int64_t planes, int64_t h, int64_t w, int right, int bottom) {
  const int64_t ow = w + right, oh = h + bottom;
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (planes * oh * ow > kParallelMin)
  for (int64_t p = 0; p < planes; ++p) {
    float* dst = y + p * oh * ow;
    for (int64_t r = 0; r < h; ++r) {
      std::memcpy(dst + r * ow, x + (p * h + r) * w, static_cast<size_t>(w) * sizeof(float));
      std::fill(dst + r * ow + w, dst + (r + 1) * ow, 0.0f);
    }
    std::fill(dst + h * ow, dst + oh * ow, 0.0f);
  }
}

}  // namespace ls::cpu
