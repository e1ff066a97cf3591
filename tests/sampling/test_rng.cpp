// sampling::NoiseGenerator against torch's CPU generator: the refsuite's euler_a run drew its 8 ancestral
// noise tensors with torch.Generator("cpu").manual_seed(4242) (refsuite README §4). Our draws equal them
// within 2e-6 absolute (torch's AVX2 path uses SLEEF log/sin/cos; we use libm — last-bit differences).
#include <gtest/gtest.h>

#include <cmath>

#include "io/safetensors.h"
#include "sampling/rng.h"

TEST(NoiseGenerator, MatchesTorchCpuRandn) {
  auto f = ls::io::read_safetensors(std::string(LS_SHARED_DIR) + "/refsuite/reference/txt2img_euler_a.safetensors");
  ls::sampling::NoiseGenerator g(4242);
  for (int s = 0; s < 8; ++s) {
    auto ref = f.get("step" + std::to_string(s) + ".ancestral_noise").to(ls::DType::F32);
    auto got = g.randn(ref.shape());
    double worst = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) worst = std::max(worst, std::fabs(double(ref.f32()[i]) - got.f32()[i]));
    EXPECT_LE(worst, 2e-6) << "step " << s;
  }
}

TEST(NoiseGenerator, DeterministicPerSeedAndTailBlock) {
  ls::sampling::NoiseGenerator a(1), b(1), c(2);
  auto x = a.randn({3, 7}), y = b.randn({3, 7}), z = c.randn({3, 7});  // 21 elements: the recomputed last block
  EXPECT_EQ(std::vector<float>(x.f32().begin(), x.f32().end()), std::vector<float>(y.f32().begin(), y.f32().end()));
  EXPECT_NE(x.f32()[0], z.f32()[0]);
  auto small = a.randn({5});  // < 16 elements: the double-precision path
  for (float v : small.f32()) EXPECT_TRUE(std::isfinite(v));
}
