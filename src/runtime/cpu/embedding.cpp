// Token embedding lookup (torch.nn.functional.embedding) and the sinusoidal timestep embedding of
// diffusers.models.embeddings.get_timestep_embedding (Vaswani et al. 2017 positional encoding, as
// used by DDPM / Stable Diffusion), computed in float32 step by step as the torch code does.
#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/cpu/kernels.h"
#include "runtime/error.h"

namespace ls::cpu {

void embedding(const float* table, int64_t v, int64_t c, const void* ids, bool is_i64, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t id = is_i64 ? static_cast<const int64_t*>(ids)[i] : static_cast<const int32_t*>(ids)[i];
    if (id < 0 || id >= v) fail("embedding: id {} at position {} outside the table's {} rows", id, i, v);
    std::memcpy(y + i * c, table + id * c, static_cast<size_t>(c) * sizeof(float));
  }
}

void timestep_embedding(const float* t, int64_t n, int dim, bool flip_sin_to_cos, float freq_shift,
                        float max_period, float* y) {
  const int half = dim / 2;
  // exponent = −ln(max_period)·arange(half) / (half − shift): the scalar is rounded to float32 first,
  // each product and quotient is a float32 op, then exp in float32.
  const float neg_log = static_cast<float>(-std::log(static_cast<double>(max_period)));
  const float denom = static_cast<float>(half) - freq_shift;
  std::vector<float> freq(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    const float e = (neg_log * static_cast<float>(i)) / denom;
    freq[i] = static_cast<float>(std::exp(static_cast<double>(e)));  // correctly rounded float exp
  }
  for (int64_t r = 0; r < n; ++r) {
    float* row = y + r * dim;
    for (int i = 0; i < half; ++i) {
      const float arg = t[r] * freq[i];
      const float s = static_cast<float>(std::sin(static_cast<double>(arg)));
      const float co = static_cast<float>(std::cos(static_cast<double>(arg)));
      row[flip_sin_to_cos ? half + i : i] = s;
      row[flip_sin_to_cos ? i : half + i] = co;
    }
    if (dim % 2) row[dim - 1] = 0.0f;  // diffusers zero-pads odd dims
  }
}

}  // namespace ls::cpu
