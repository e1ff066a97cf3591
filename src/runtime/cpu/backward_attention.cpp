// Adjoint of multi-head attention (attention.cpp), FlashAttention-2 style (Dao 2023, Algorithm 2): per
// (batch, head), over tiles of queries, recompute P = softmax(Q_t·Kᵀ/√d) (causal mask as the forward), then
//   dV += Pᵀ·dO_t;  dP = dO_t·Vᵀ;  dS = P ⊙ (dP − rowsum(dP ⊙ P));  dQ_t = dS·K/√d;  dK += dSᵀ·Q_t/√d.
// One (batch, head) per task, so dK/dV accumulate without races; GEMMs read the [b, l, heads·d] layout directly.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/cpu/backward.h"
#include "runtime/cpu/vmath.h"

namespace ls::cpu {

void attention_backward(const float* q, const float* k, const float* v, const float* go, float* gq, float* gk,
                        float* gv, int64_t b, int64_t lq, int64_t lk, int64_t heads, int64_t d, bool causal) {
  const int64_t hd = heads * d;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  constexpr int64_t kTile = 64;
  std::memset(gk, 0, static_cast<size_t>(b * lk * hd) * sizeof(float));
  std::memset(gv, 0, static_cast<size_t>(b * lk * hd) * sizeof(float));
  const int nt = threads();
#pragma omp parallel num_threads(nt)
  {
    std::vector<float> p, dp;
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < b * heads; ++task) {
      const int64_t bi = task / heads, h = task % heads;
      const float* kb = k + bi * lk * hd + h * d;
      const float* vb = v + bi * lk * hd + h * d;
      float* gkb = gk + bi * lk * hd + h * d;
      float* gvb = gv + bi * lk * hd + h * d;
      for (int64_t i0 = 0; i0 < lq; i0 += kTile) {
        const int64_t i1 = std::min(lq, i0 + kTile), rows = i1 - i0;
        const int64_t keys = causal ? std::min(lk, i1) : lk;
        const float* qt = q + (bi * lq + i0) * hd + h * d;
        const float* got = go + (bi * lq + i0) * hd + h * d;
        float* gqt = gq + (bi * lq + i0) * hd + h * d;
        p.resize(static_cast<size_t>(rows * keys));
        dp.resize(static_cast<size_t>(rows * keys));
        sgemm(false, true, rows, keys, d, scale, qt, hd, kb, hd, 0.0f, p.data(), keys);
        for (int64_t r = 0; r < rows; ++r) {
          float* row = p.data() + r * keys;
          const int64_t n = causal ? std::min(keys, i0 + r + 1) : keys;
          softmax_row(row, n);
          std::fill(row + n, row + keys, 0.0f);
        }
        sgemm(true, false, keys, d, rows, 1.0f, p.data(), keys, got, hd, 1.0f, gvb, hd);      // dV += Pᵀ·dO
        sgemm(false, true, rows, keys, d, 1.0f, got, hd, vb, hd, 0.0f, dp.data(), keys);      // dP = dO·Vᵀ
        for (int64_t r = 0; r < rows; ++r) {
          float* pr = p.data() + r * keys;
          float* dr = dp.data() + r * keys;
          double dot = 0.0;
          for (int64_t j = 0; j < keys; ++j) dot += static_cast<double>(pr[j]) * dr[j];
          for (int64_t j = 0; j < keys; ++j) dr[j] = pr[j] * (dr[j] - static_cast<float>(dot));  // dS
        }
        sgemm(false, false, rows, d, keys, scale, dp.data(), keys, kb, hd, 0.0f, gqt, hd);    // dQ = dS·K/√d
        sgemm(true, false, keys, d, rows, scale, dp.data(), keys, qt, hd, 1.0f, gkb, hd);     // dK += dSᵀ·Q/√d
      }
    }
  }
}

}  // namespace ls::cpu
