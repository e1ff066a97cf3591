// Seeded Gaussian noise for initial latents and ancestral steps.
//
// The generator follows torch's CPU algorithm (torch.randn with torch.Generator("cpu").manual_seed(seed)):
// MT19937 seeded with the low 32 bits of the seed; float uniforms (u & 0xFFFFFF)·2⁻²⁴; for tensors of
// ≥ 16 elements, Box–Muller over blocks of 16 (u1 = 1 − a[j], u2 = a[j+8], j < 8) with the last block
// recomputed when numel is not a multiple of 16 (aten/src/ATen/native/cpu/DistributionTemplates.h).
// Measured: equal to torch 2.11's CPU draws within 2e-6 (tests/sampling/test_rng.cpp); not bit-equal,
// since torch's AVX2 path uses SLEEF log/sin/cos where this uses libm (bit-equality: issue 6).
#pragma once

#include <cstdint>
#include <random>

#include "runtime/tensor.h"

namespace ls::sampling {

class NoiseGenerator {
 public:
  explicit NoiseGenerator(uint64_t seed) : mt_(static_cast<uint32_t>(seed & 0xffffffffu)) {}
  /// N(0, 1) F32 tensor of `shape`, drawn as torch.randn(shape) would be on the CPU generator.
  Tensor randn(const Shape& shape);

 private:
  std::mt19937 mt_;
};

}  // namespace ls::sampling
