// Seeded Gaussian noise that reproduces torch's generators, for initial latents and per-step noise.
//
// NoiseGenerator — torch.randn on the CPU generator (torch.Generator("cpu").manual_seed(seed)), as ComfyUI
// draws its initial noise: MT19937 seeded with the low 32 bits of the seed. Tensors of ≥ 16 elements:
// float uniforms (u & 0xFFFFFF)·2⁻²⁴, Box–Muller over blocks of 16 (u1 = 1 − a[j], u2 = a[j+8], j < 8; the
// last block recomputed from fresh uniforms when numel is not a multiple of 16); smaller tensors: double
// Box–Muller (53-bit uniforms, r = √(−2·log1p(−u2)), θ = 2π·u1) with torch's cached second value
// (aten/src/ATen/native/cpu/DistributionTemplates.h, DistributionKernels.cpp). The ≥ 16 path exists twice
// in torch, and which one runs depends on the CPU torch dispatches to:
//   CpuKernel::Avx2    (CPU capability AVX2: most x86 desktops) log256_ps / sincos256_ps of avx_mathfun.h
//                      (Cephes polynomials, Pommier) in float32, reproduced here operation by operation;
//   CpuKernel::Scalar  (capability DEFAULT: CPUs without AVX2, non-x86) std::log / std::cos / std::sin in
//                      float, θ = 2π·u2 computed in double and rounded.
// Both are bit-equal to torch 2.11 for the tested seeds (tests/sampling/test_rng.cpp). torch's AVX512 build
// of the kernel (CPUs with AVX-512) is not reproduced: it differs from the scalar kernel in the last bit of
// about 40 % of the elements (|Δ| < 2e-6).
//
// PhiloxGenerator — torch.randn on a CUDA generator (A1111's default seed behaviour): curand Philox4x32-10
// keyed by the 64-bit seed, one counter per thread: (offset/4, idx) with the thread layout of torch's
// distribution_nullary_kernel (256 threads per block, grid = min(⌈n/256⌉, SMs·(max threads per SM / 256)),
// each thread's curand_normal4 filling elements idx + k·stride); the offset advances by
// 4·⌈n / (4·threads)⌉ per call. Box–Muller as curand: u = fma(x, 2⁻³², 2⁻³³), v = fma(y, 2π·2⁻³², π·2⁻³²),
// r = √(−2·logf(u)) with CUDA's logf (libdevice __nv_logf, reproduced bit for bit), element = r·sin v (.x) and
// r·cos v (.y). curand uses the hardware approximation __sincosf (MUFU.SIN/COS) for sin/cos, which is not
// reproducible on the CPU: we use correctly rounded sinf/cosf, so elements differ from the GPU's in the last
// bits where the hardware's approximation (|error| ≤ 2⁻²¹·⁴¹) rounds differently (measured in
// tests/sampling/test_rng.cpp: max |Δ| ≈ 1e-6 for N(0,1) values; everything else — counters, uniforms, log,
// sqrt, layout, offsets — is exact).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "runtime/tensor.h"

namespace ls::sampling {

/// Which of torch's CPU normal kernels to reproduce (see the file comment).
enum class CpuKernel { Avx2, Scalar };

class NoiseGenerator {
 public:
  explicit NoiseGenerator(uint64_t seed, CpuKernel kernel = CpuKernel::Avx2)
      : mt_(static_cast<uint32_t>(seed & 0xffffffffu)), kernel_(kernel) {}
  /// N(0, 1) F32 tensor of `shape`, drawn as torch.randn(shape, generator=g) would be on the CPU.
  Tensor randn(const Shape& shape);

 private:
  std::mt19937 mt_;
  CpuKernel kernel_;
  std::optional<double> next_normal_;  ///< torch's cached second Box–Muller value of the < 16 path
};

/// torch.randn(shape, generator=torch.Generator("cuda").manual_seed(seed), device="cuda") on the CPU.
class PhiloxGenerator {
 public:
  /// `max_threads`: the GPU's SM count × max threads per SM (only tensors of more than 4·max_threads/… elements
  /// depend on it; default: H100/H200, 132 × 2048).
  explicit PhiloxGenerator(uint64_t seed, int64_t max_threads = 132 * 2048) : seed_(seed), max_threads_(max_threads) {}
  Tensor randn(const Shape& shape);
  /// Philox4x32-10 block for counter (c0, c1, c2, c3) and key (k0, k1) (curand_Philox4x32_10).
  static void philox(uint32_t ctr[4], uint32_t k0, uint32_t k1);
  /// CUDA's logf (libdevice __nv_logf), bit for bit.
  static float cuda_logf(float a);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;  ///< in 32-bit draws per thread, as torch's philox_offset_per_thread
  int64_t max_threads_;
};

/// A noise source for one generation: the initial noise and each later draw (ancestral / SDE steps).
class NoiseSource {
 public:
  virtual ~NoiseSource() = default;
  /// Unit noise of `shape` [N, C, H, W] (the next draw).
  virtual Tensor next(const Shape& shape) = 0;
};

/// `kind`: "cpu" (torch CPU generator, AVX2 kernel), "cpu-scalar" (torch CPU generator, scalar kernel: torch on
/// CPUs without AVX2), "cuda" (torch CUDA Philox). "cpu*": one generator seeded `seed` draws each
/// whole [N, C, H, W] tensor (ComfyUI's prepare_noise). "cuda": A1111's per-image generators — image b is
/// seeded seed + b and draws [C, H, W] per call. Throws ls::Error for an unknown kind.
std::unique_ptr<NoiseSource> make_noise_source(const std::string& kind, uint64_t seed);

/// Valid `kind` names.
const std::vector<std::string>& noise_source_names();

}  // namespace ls::sampling
