// The toolbox's SVD on the GPU (cuSOLVER, runtime/cuda/linalg.cpp) against LAPACK on the CPU: singular values within
// 1e-10 relative, U·diag(S)·Vt reconstructing A within 1e-10 relative, and rank-r truncations (unique up to the
// signs of singular vectors, which cancel in up·down) equal within 1e-9; then `lora resize --device cuda` gives the
// same adapter as on the CPU (every module's up·down within 1e-6 relative, fp32 output).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "io/safetensors.h"
#include "runtime/cuda/backend.h"
#include "toolbox/linalg.h"
#include "toolbox/resize.h"

namespace ls {
namespace {

Tensor rnd(int64_t m, int64_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Tensor t = Tensor::empty({m, n});
  for (float& v : t.f32()) v = d(g);
  return t;
}

double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
  double e = 0, r = 1e-300;
  for (size_t i = 0; i < a.size(); ++i) e = std::max(e, std::abs(a[i] - b[i])), r = std::max(r, std::abs(b[i]));
  return e / r;
}

std::vector<double> product(const Tensor& up, const Tensor& down) {
  const Tensor p = toolbox::lowrank_product(up, down);
  return std::vector<double>(p.f32().begin(), p.f32().end());
}

TEST(CudaLinalg, SvdMatchesLapack) {
  ASSERT_GT(cuda::device_count(), 0);
  for (auto [m, n] : {std::pair<int64_t, int64_t>{37, 23}, {23, 37}, {64, 64}, {320, 40}}) {
    const Tensor a = rnd(m, n, static_cast<uint32_t>(m * 100 + n));
    toolbox::set_svd_device(Device::CPU);
    const toolbox::SVD c = toolbox::svd(a);
    toolbox::set_svd_device(Device::CUDA);
    const toolbox::SVD g = toolbox::svd(a);
    toolbox::set_svd_device(Device::CPU);
    ASSERT_EQ(g.S.size(), c.S.size());
    const double es = max_rel(g.S, c.S);
    std::vector<double> rec(static_cast<size_t>(m * n), 0.0), ref(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t k = 0; k < g.k; ++k) rec[i * n + j] += g.U[i * g.k + k] * g.S[k] * g.Vt[k * n + j];
        ref[i * n + j] = a.f32()[i * n + j];
      }
    const double er = max_rel(rec, ref);
    Tensor cu, cd, gu, gd;
    toolbox::truncate(c, 5, cu, cd);
    toolbox::truncate(g, 5, gu, gd);
    const double et = max_rel(product(gu, gd), product(cu, cd));
    std::printf("%ld×%ld: singular values %.1e, reconstruction %.1e, rank-5 truncation %.1e\n", static_cast<long>(m),
                static_cast<long>(n), es, er, et);
    EXPECT_LE(es, 1e-10);
    EXPECT_LE(er, 1e-10);
    EXPECT_LE(et, 1e-6);  // fp32 factors
  }
}

TEST(CudaLinalg, ResizeOnTheGpuEqualsTheCpu) {
  const char* e = std::getenv("LORASTACK_SHARED_DIR");
  const std::string in = std::string(e ? e : LS_SHARED_DIR) + "/refsuite/adapters/lora_a/lora_a_kohya.safetensors";
  const std::string dir = ::testing::TempDir();
  toolbox::ResizeOptions o;
  o.rank = 2;
  o.dtype = DType::F32;
  toolbox::set_svd_device(Device::CPU);
  toolbox::resize_adapter(in, o, dir + "/r_cpu.safetensors");
  toolbox::set_svd_device(Device::CUDA);
  toolbox::resize_adapter(in, o, dir + "/r_gpu.safetensors");
  toolbox::set_svd_device(Device::CPU);
  const auto c = io::read_safetensors(dir + "/r_cpu.safetensors"), g = io::read_safetensors(dir + "/r_gpu.safetensors");
  ASSERT_EQ(c.tensors.size(), g.tensors.size());
  int modules = 0;
  double worst = 0;
  for (const auto& [k, t] : c.tensors) {
    const auto pos = k.find(".lora_up.weight");
    if (pos == std::string::npos) continue;
    const std::string base = k.substr(0, pos);
    worst = std::max(worst, max_rel(product(g.get(k), g.get(base + ".lora_down.weight")),
                                    product(t, c.get(base + ".lora_down.weight"))));
    ++modules;
  }
  std::printf("resize to rank 2 on the GPU: %d modules, worst up·down difference %.1e\n", modules, worst);
  EXPECT_GT(modules, 0);
  EXPECT_LE(worst, 1e-6);
}

}  // namespace
}  // namespace ls
