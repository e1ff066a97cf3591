#include "sampling/rng.h"

#include <cmath>
#include <numbers>

namespace ls::sampling {

namespace {
void normal_fill_16(float* d) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - d[j];
    const float u2 = d[j + 8];
    const float radius = std::sqrt(-2.0f * std::log(u1));
    const float theta = static_cast<float>(2.0 * std::numbers::pi * u2);
    d[j] = radius * std::cos(theta);
    d[j + 8] = radius * std::sin(theta);
  }
}
}  // namespace

Tensor NoiseGenerator::randn(const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  float* d = t.data<float>();
  const int64_t n = t.numel();
  auto uniform = [&] { return static_cast<float>((mt_() & 0xffffffu) * (1.0 / 16777216.0)); };
  if (n >= 16) {
    for (int64_t i = 0; i < n; ++i) d[i] = uniform();
    for (int64_t i = 0; i + 16 <= n; i += 16) normal_fill_16(d + i);
    if (n % 16 != 0) {
      float* tail = d + n - 16;
      for (int i = 0; i < 16; ++i) tail[i] = uniform();
      normal_fill_16(tail);
    }
  } else {
    // torch draws small tensors one double at a time (at::normal_distribution<double>, Box–Muller with a
    // cached second value); reproduced here with 53-bit uniforms.
    auto uniform64 = [&] {
      uint64_t hi = mt_(), lo = mt_();
      uint64_t v = (hi << 32) | lo;
      return static_cast<double>(v & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
    };
    for (int64_t i = 0; i < n; ++i) {
      double u1 = uniform64(), u2 = uniform64();
      double r = std::sqrt(-2.0 * std::log1p(-u2));
      d[i] = static_cast<float>(r * std::cos(2.0 * std::numbers::pi * u1));
    }
  }
  return t;
}

}  // namespace ls::sampling
