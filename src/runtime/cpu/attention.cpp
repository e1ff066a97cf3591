// Multi-head scaled dot-product attention (Vaswani et al. 2017; torch.nn.functional.
// scaled_dot_product_attention with is_causal using the top-left aligned mask). Per (batch, head, query
// tile): S = Q_t·Kᵀ·(1/√d) by sgemm straight from the [b, l, heads·d] layout (leading dimension heads·d),
// P = exp(S − rowmax) in fp32, O_t = P·V written into the output, then rows scaled by 1/ΣP.
// Work memory: one tile of scores per thread.
#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/cpu/kernels.h"
#include "runtime/cpu/vmath.h"

namespace ls::cpu {

void attention(const float* q, const float* k, const float* v, float* o, int64_t b, int64_t lq, int64_t lk,
               int64_t heads, int64_t d, bool causal) {
  const int64_t hd = heads * d;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  constexpr int64_t kTile = 128;  // 2 MB of scores at Lk = 4096; measured best of 16…256
  const int64_t tiles = (lq + kTile - 1) / kTile;
  const int64_t tasks = b * heads * tiles;
  const int nt = threads();
#pragma omp parallel num_threads(nt)
  {
    std::vector<float> scores;
    float inv_sum[kTile];
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < tasks; ++task) {
      const int64_t bi = task / (heads * tiles), h = (task / tiles) % heads, t = task % tiles;
      const int64_t i0 = t * kTile, i1 = std::min(lq, i0 + kTile), rows = i1 - i0;
      // keys any row of this tile can see
      const int64_t keys = causal ? std::min(lk, i1) : lk;
      float* out = o + (bi * lq + i0) * hd + h * d;
      if (keys <= 0) {  // causal with lk = 0 cannot happen (checked by ops); keep outputs defined anyway
        for (int64_t r = 0; r < rows; ++r) std::fill_n(out + r * hd, d, 0.0f);
        continue;
      }
      scores.resize(static_cast<size_t>(rows * keys));
      const float* qt = q + (bi * lq + i0) * hd + h * d;
      const float* kb = k + bi * lk * hd + h * d;
      const float* vb = v + bi * lk * hd + h * d;
      sgemm(false, true, rows, keys, d, scale, qt, hd, kb, hd, 0.0f, scores.data(), keys);
      for (int64_t r = 0; r < rows; ++r) {
        float* row = scores.data() + r * keys;
        const int64_t n = causal ? std::min(keys, i0 + r + 1) : keys;
        inv_sum[r] = 1.0f / softmax_row_unnormalized(row, n);
        std::fill(row + n, row + keys, 0.0f);
      }
      // O = (P/Σ)·V: the 1/Σ row scale is applied to the rows×d result instead of the rows×keys scores
      sgemm(false, false, rows, d, keys, 1.0f, scores.data(), keys, vb, hd, 0.0f, out, hd);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t e = 0; e < d; ++e) out[r * hd + e] *= inv_sum[r];
    }
  }
}

}  // namespace ls::cpu
