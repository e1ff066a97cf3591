// Noise generators against torch 2.11 (tests/sampling/data/noise_*.safetensors, made on the device: an H200
// host; for each seed in {0, 1, 42, 2³²−1} one generator drew, in order, the tensors named below).
//   noise_cpu_{default,avx2,avx512}: torch.Generator().manual_seed(seed), torch.randn of (1,4,64,64) "a",
//     (1,4,64,64) "b", (3,7) "c", (5,) "d", (2,4,16,16) "e", with ATEN_CPU_CAPABILITY=default / avx2 / avx512
//     (metadata "capability" records what torch ran).
//   noise_cuda: torch.Generator("cuda").manual_seed(seed), torch.randn(..., device="cuda") of (4,64,64) "a",
//     (4,64,64) "b", (3,7) "c", (4,256,320) "big" (more elements than the H200 has threads: 4 per thread; kept for seed 0 only),
//     (4,8,8) "d".
// CPU: bit-equal. CUDA: counters, uniforms, logf, sqrt, layout and offsets are exact; sin/cos use the GPU's
// approximate __sincosf, so we require |Δ| ≤ 4e-6·max(1, |ref|) and report how many elements are bit-equal.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "io/safetensors.h"
#include "sampling/rng.h"

using namespace ls;
using namespace ls::sampling;

namespace {

std::string data(const std::string& f) { return std::string(LS_SOURCE_DIR) + "/tests/sampling/data/" + f; }
const uint64_t kSeeds[] = {0, 1, 42, 4294967295ull};

int64_t bit_diffs(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  int64_t n = 0;
  for (int64_t i = 0; i < std::min(a.numel(), b.numel()); ++i)
    n += std::memcmp(&a.f32()[i], &b.f32()[i], sizeof(float)) != 0;
  return n;
}

void check_cpu(const std::string& file, CpuKernel kernel) {
  auto f = io::read_safetensors(data(file));
  for (uint64_t seed : kSeeds) {
    NoiseGenerator g(seed, kernel);
    for (const char* name : {"a", "b", "c", "d", "e"}) {
      const Tensor want = f.get(fmt::format("s{}.{}", seed, name)).to(DType::F32);
      const Tensor got = g.randn(want.shape());
      EXPECT_EQ(bit_diffs(got, want), 0) << file << " seed " << seed << " tensor " << name;
    }
  }
}

TEST(NoiseGenerator, CpuAvx2KernelBitEqual) { check_cpu("noise_cpu_avx2.safetensors", CpuKernel::Avx2); }
TEST(NoiseGenerator, CpuScalarKernelBitEqual) { check_cpu("noise_cpu_default.safetensors", CpuKernel::Scalar); }
// torch's AVX512 build of the kernel is not reproduced (≈ 40 % of the elements differ in the last bit from
// the scalar kernel): only a closeness check.
TEST(NoiseGenerator, CpuAvx512KernelIsCloseOnly) {
  auto f = io::read_safetensors(data("noise_cpu_avx512.safetensors"));
  NoiseGenerator g(0, CpuKernel::Scalar);
  const Tensor want = f.get("s0.a").to(DType::F32);
  const Tensor got = g.randn(want.shape());
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_NEAR(got.f32()[i], want.f32()[i], 2e-6) << i;
  std::printf("AVX512 capability: %lld of %lld elements differ from the scalar kernel\n",
              static_cast<long long>(bit_diffs(got, want)), static_cast<long long>(want.numel()));
}

// The refsuite's euler_a run drew its 8 ancestral noise tensors with torch.Generator("cpu").manual_seed(4242)
// on the machine that made the refsuite; one of the two kernels reproduces them exactly.
TEST(NoiseGenerator, RefsuiteAncestralNoise) {
  auto f = io::read_safetensors(std::string(LS_SHARED_DIR) + "/refsuite/reference/txt2img_euler_a.safetensors");
  for (CpuKernel k : {CpuKernel::Avx2, CpuKernel::Scalar}) {
    NoiseGenerator g(4242, k);
    double worst = 0;
    int64_t diffs = 0;
    for (int s = 0; s < 8; ++s) {
      auto ref = f.get("step" + std::to_string(s) + ".ancestral_noise").to(DType::F32);
      auto got = g.randn(ref.shape());
      diffs += bit_diffs(got, ref);
      for (int64_t i = 0; i < ref.numel(); ++i) worst = std::max(worst, std::fabs(double(ref.f32()[i]) - got.f32()[i]));
    }
    EXPECT_LE(worst, 2e-6);
    std::printf("refsuite ancestral noise, %s kernel: %lld elements differ, max |Δ| %.2e\n",
                k == CpuKernel::Avx2 ? "AVX2" : "scalar", static_cast<long long>(diffs), worst);
  }
}

TEST(PhiloxGenerator, MatchesTorchCuda) {
  auto f = io::read_safetensors(data("noise_cuda.safetensors"));
  int64_t total = 0, equal = 0;
  double worst = 0;
  for (uint64_t seed : kSeeds) {
    PhiloxGenerator g(seed);
    for (const char* name : {"a", "b", "c", "big", "d"}) {
      const std::string key = fmt::format("s{}.{}", seed, name);
      if (!f.has(key)) {  // "big" is stored for seed 0 only (size); still drawn to keep the offsets
        g.randn({4, 256, 320});
        continue;
      }
      const Tensor want = f.get(key).to(DType::F32);
      const Tensor got = g.randn(want.shape());
      for (int64_t i = 0; i < want.numel(); ++i) {
        const double w = want.f32()[i], d = std::fabs(w - got.f32()[i]);
        worst = std::max(worst, d / std::max(1.0, std::fabs(w)));
        EXPECT_LE(d, 4e-6 * std::max(1.0, std::fabs(w))) << "seed " << seed << " " << name << "[" << i << "]";
        if (d > 4e-6 * std::max(1.0, std::fabs(w))) return;
      }
      total += want.numel();
      equal += want.numel() - bit_diffs(got, want);
    }
  }
  std::printf("cuda philox: %lld of %lld elements bit-equal (%.1f%%), max |Δ|/max(1,|ref|) %.2e\n",
              static_cast<long long>(equal), static_cast<long long>(total), 100.0 * equal / total, worst);
}

TEST(PhiloxGenerator, A1111Example) {
  // rng_philox.py's documented output for Generator(seed=0).randn((3, 4))
  PhiloxGenerator g(0);
  Tensor t = g.randn({3, 4});
  const float want[12] = {-0.92466259f, -0.42534415f, -2.6438457f, 0.14518388f,  -0.12086647f, -0.57972564f,
                          -0.62285122f, -0.32838709f, -1.07454231f, -0.36314407f, -1.67105067f, 2.26550497f};
  for (int i = 0; i < 12; ++i) EXPECT_NEAR(t.f32()[i], want[i], 2e-6) << i;
}

TEST(NoiseSource, KindsAndBatches) {
  EXPECT_THROW(make_noise_source("gpu", 1), Error);
  // cuda: image b of a batch is seeded seed + b (A1111)
  auto src = make_noise_source("cuda", 41);
  Tensor batch = src->next({2, 4, 8, 8});
  PhiloxGenerator g42(42);
  Tensor second = g42.randn({4, 8, 8});
  EXPECT_EQ(std::memcmp(batch.data<float>() + 256, second.data<float>(), 256 * sizeof(float)), 0);
  // cpu: one generator for the whole batch, continuing across draws
  auto cpu = make_noise_source("cpu", 7);
  NoiseGenerator g(7);
  Tensor a = cpu->next({2, 4, 8, 8}), b = cpu->next({2, 4, 8, 8});
  EXPECT_EQ(bit_diffs(a, g.randn({2, 4, 8, 8})), 0);
  EXPECT_EQ(bit_diffs(b, g.randn({2, 4, 8, 8})), 0);
}

}  // namespace
