// torch's CPU and CUDA randn reproduced on the CPU (see rng.h). Compiled with -ffp-contract=off; the FMAs
// that the references perform are written as std::fma.
#include "sampling/rng.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <numbers>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/error.h"

namespace ls::sampling {
namespace {

float f32(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

// ---- avx_mathfun.h (Pommier, Cephes) as torch's AVX2 kernel evaluates it. GCC contracts a multiply whose
// only use is an add into an FMA (tree-ssa-math-opts, in statement order) when building torch with -mfma;
// the std::fma calls below are exactly those contractions (found against torch 2.11's output).
float log_ps(float x) {
  const float one = 1.0f;
  x = std::max(x, f32(0x00800000u));  // min_norm_pos
  int32_t e_i = static_cast<int32_t>(bits(x) >> 23) - 0x7f;
  x = f32((bits(x) & ~0x7f800000u) | bits(0.5f));
  float e = static_cast<float>(e_i) + one;
  const bool mask = x < 0.707106781186547524f;
  const float tmp = mask ? x : 0.0f;
  x = x - one;
  e = e - (mask ? one : 0.0f);
  x = x + tmp;
  const float z = x * x;
  float y = 7.0376836292E-2f;
  for (float p : {-1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f, 1.4249322787E-1f, -1.6668057665E-1f,
                  2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f})
    y = std::fma(y, x, p);
  y = y * x;
  y = std::fma(y, z, e * -2.12194440e-4f);
  y = y - z * 0.5f;
  x = x + y;
  x = x + e * 0.693359375f;  // exact product
  return x;
}

void sincos_ps(float xin, float& s, float& c) {
  uint32_t sign_sin = bits(xin) & 0x80000000u;
  float x = f32(bits(xin) & 0x7fffffffu);
  float y = x * 1.27323954473516f;  // 4/π
  int32_t j = static_cast<int32_t>(y);
  j = (j + 1) & ~1;
  y = static_cast<float>(j);
  const uint32_t swap_sign_sin = static_cast<uint32_t>(j & 4) << 29;
  const bool poly_mask = (j & 2) == 0;
  x = std::fma(y, -0.78515625f, x);
  x = std::fma(y, -2.4187564849853515625e-4f, x);
  x = std::fma(y, -3.77489497744594108e-8f, x);
  const uint32_t sign_cos = static_cast<uint32_t>(~(j - 2) & 4) << 29;
  sign_sin ^= swap_sign_sin;
  const float z = x * x;
  float yc = 2.443315711809948E-005f;
  yc = std::fma(yc, z, -1.388731625493765E-003f);
  yc = std::fma(yc, z, 4.166664568298827E-002f);
  yc = yc * z;
  yc = std::fma(yc, z, -(z * 0.5f));
  yc = yc + 1.0f;
  float ys = -1.9515295891E-4f;
  ys = std::fma(ys, z, 8.3321608736E-3f);
  ys = std::fma(ys, z, -1.6666654611E-1f);
  ys = ys * z;
  ys = std::fma(ys, x, x);
  const float sin_v = poly_mask ? ys : yc;
  const float cos_v = poly_mask ? yc : ys;
  s = f32(bits(sin_v) ^ sign_sin);
  c = f32(bits(cos_v) ^ sign_cos);
}

void normal_fill_16(float* d, CpuKernel k) {
  if (k == CpuKernel::Avx2) {
    const float two_pi = static_cast<float>(2.0 * std::numbers::pi);
    for (int j = 0; j < 8; ++j) {
      const float u1 = 1.0f - d[j];
      const float u2 = d[j + 8];
      const float radius = std::sqrt(-2.0f * log_ps(u1));
      const float theta = two_pi * u2;
      float sn, cs;
      sincos_ps(theta, sn, cs);
      d[j] = radius * cs;
      d[j + 8] = radius * sn;
    }
  } else {
    for (int j = 0; j < 8; ++j) {
      const float u1 = 1.0f - d[j];
      const float u2 = d[j + 8];
      const float radius = std::sqrt(-2.0f * std::log(u1));
      const float theta = static_cast<float>(2.0 * std::numbers::pi * u2);
      d[j] = radius * std::cos(theta);
      d[j + 8] = radius * std::sin(theta);
    }
  }
}

class CpuSource final : public NoiseSource {
 public:
  CpuSource(uint64_t seed, CpuKernel k) : g_(seed, k) {}
  Tensor next(const Shape& shape) override { return g_.randn(shape); }

 private:
  NoiseGenerator g_;
};

class CudaSource final : public NoiseSource {
 public:
  explicit CudaSource(uint64_t seed) : seed_(seed) {}
  Tensor next(const Shape& shape) override {
    if (shape.size() != 4) fail("cuda noise: shape {} is not [N, C, H, W]", shape_str(shape));
    while (gens_.size() < static_cast<size_t>(shape[0])) gens_.emplace_back(seed_ + gens_.size());
    Tensor out = Tensor::empty(shape);
    const int64_t per = shape[1] * shape[2] * shape[3];
    for (int64_t b = 0; b < shape[0]; ++b) {
      Tensor z = gens_[b].randn({shape[1], shape[2], shape[3]});
      std::memcpy(out.data<float>() + b * per, z.data<float>(), per * sizeof(float));
    }
    return out;
  }

 private:
  uint64_t seed_;
  std::vector<PhiloxGenerator> gens_;
};

}  // namespace

Tensor NoiseGenerator::randn(const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  float* d = t.data<float>();
  const int64_t n = t.numel();
  auto uniform = [&] { return static_cast<float>((mt_() & 0xffffffu) * (1.0 / 16777216.0)); };
  if (n >= 16) {
    for (int64_t i = 0; i < n; ++i) d[i] = uniform();
    for (int64_t i = 0; i + 16 <= n; i += 16) normal_fill_16(d + i, kernel_);
    if (n % 16 != 0) {
      float* tail = d + n - 16;
      for (int i = 0; i < 16; ++i) tail[i] = uniform();
      normal_fill_16(tail, kernel_);
    }
  } else {
    // at::normal_distribution<double> with the generator's cached second sample
    auto uniform64 = [&] {
      const uint64_t hi = mt_(), lo = mt_();
      return static_cast<double>(((hi << 32) | lo) & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
    };
    for (int64_t i = 0; i < n; ++i) {
      if (next_normal_) {
        d[i] = static_cast<float>(*next_normal_);
        next_normal_.reset();
        continue;
      }
      const double u1 = uniform64(), u2 = uniform64();
      const double r = std::sqrt(-2.0 * std::log1p(-u2));
      const double theta = 2.0 * std::numbers::pi * u1;
      next_normal_ = r * std::sin(theta);
      d[i] = static_cast<float>(r * std::cos(theta));
    }
  }
  return t;
}

void PhiloxGenerator::philox(uint32_t ctr[4], uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t{0xD2511F53u} * ctr[0];
    const uint64_t p1 = uint64_t{0xCD9E8D57u} * ctr[2];
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t c0 = hi1 ^ ctr[1] ^ k0, c2 = hi0 ^ ctr[3] ^ k1;
    ctr[0] = c0;
    ctr[1] = lo1;
    ctr[2] = c2;
    ctr[3] = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

float PhiloxGenerator::cuda_logf(float a) {
  const bool small = a < f32(0x00800000u);
  const float a1 = small ? a * f32(0x4B000000u) : a;
  const float e0 = small ? f32(0xC1B80000u) : 0.0f;
  const int32_t i = static_cast<int32_t>(bits(a1));
  const int32_t r4 = static_cast<int32_t>(static_cast<uint32_t>(i - 1059760811) & 0xff800000u);
  const float m = f32(static_cast<uint32_t>(i - r4));
  const float e = std::fma(static_cast<float>(r4), f32(0x34000000u), e0);
  const float f = m + f32(0xBF800000u);
  float p = std::fma(f32(0xBE055027u), f, f32(0x3E1039F6u));
  for (uint32_t c : {0xBDF8CDCCu, 0x3E0F2955u, 0xBE2AD8B9u, 0x3E4CED0Bu, 0xBE7FFF22u, 0x3EAAAA78u, 0xBF000000u})
    p = std::fma(p, f, f32(c));
  const float q = f * p;
  const float r = std::fma(q, f, f);
  float res = std::fma(e, f32(0x3F317218u), r);
  if (!(static_cast<uint32_t>(i) < 0x7f800000u)) res = std::fma(a1, INFINITY, INFINITY);
  return a1 == 0.0f ? -INFINITY : res;
}

Tensor PhiloxGenerator::randn(const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  float* d = t.data<float>();
  const int64_t n = t.numel();
  if (n == 0) return t;
  const int64_t block = 256;
  const int64_t max_blocks = std::max<int64_t>(1, max_threads_ / block);
  const int64_t grid = std::min((n + block - 1) / block, max_blocks);
  const int64_t stride = block * grid;
  const uint64_t counter_offset = static_cast<uint64_t>((n - 1) / (stride * 4) + 1) * 4;
  const uint64_t base = offset_ / 4;
  const uint32_t k0 = static_cast<uint32_t>(seed_), k1 = static_cast<uint32_t>(seed_ >> 32);
  const float inv32 = f32(0x2F800000u);                        // 2⁻³²
  const float inv32_2pi = 2.3283064e-10f * 6.2831855f;        // CURAND_2POW32_INV_2PI
  for (int64_t idx = 0; idx < stride; ++idx) {
    uint64_t ctr_lo = base;
    for (int64_t li = idx; li < n; li += stride * 4, ++ctr_lo) {
      uint32_t c[4] = {static_cast<uint32_t>(ctr_lo), static_cast<uint32_t>(ctr_lo >> 32), static_cast<uint32_t>(idx),
                       static_cast<uint32_t>(static_cast<uint64_t>(idx) >> 32)};
      philox(c, k0, k1);
      float r4[4];
      for (int h = 0; h < 2; ++h) {
        const float u = std::fma(static_cast<float>(c[2 * h]), inv32, inv32 / 2.0f);
        const float v = std::fma(static_cast<float>(c[2 * h + 1]), inv32_2pi, inv32_2pi / 2.0f);
        const float s = std::sqrt(-2.0f * cuda_logf(u));
        r4[2 * h] = static_cast<float>(std::sin(static_cast<double>(v))) * s;
        r4[2 * h + 1] = static_cast<float>(std::cos(static_cast<double>(v))) * s;
      }
      for (int ii = 0; ii < 4; ++ii) {
        const int64_t e = li + stride * ii;
        if (e < n) d[e] = r4[ii];
      }
    }
  }
  offset_ += counter_offset;
  return t;
}

const std::vector<std::string>& noise_source_names() {
  static const std::vector<std::string> names{"cpu", "cpu-scalar", "cuda"};
  return names;
}

std::unique_ptr<NoiseSource> make_noise_source(const std::string& kind, uint64_t seed) {
  if (kind == "cpu") return std::make_unique<CpuSource>(seed, CpuKernel::Avx2);
  if (kind == "cpu-scalar") return std::make_unique<CpuSource>(seed, CpuKernel::Scalar);
  if (kind == "cuda") return std::make_unique<CudaSource>(seed);
  fail("--rng '{}' unknown (valid: {})", kind, fmt::join(noise_source_names(), ", "));
}

}  // namespace ls::sampling
