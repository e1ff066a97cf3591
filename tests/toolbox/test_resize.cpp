// lora resize: same rank reproduces ΔW; lower ranks keep the scale and follow Eckart–Young; dynamic ranks as
// lora-formats.md §5 defines them.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "adapters/adapter_file.h"
#include "adapters/math.h"
#include "io/safetensors.h"
#include "runtime/ops.h"
#include "toolbox/inspect.h"
#include "toolbox/linalg.h"
#include "toolbox/resize.h"

namespace {

using namespace ls;
const std::string kShared = LS_SHARED_DIR;

// Scaled delta (alpha/r)·up·down of every module, by module key.
std::map<std::string, Tensor> deltas(const std::string& path) {
  std::map<std::string, Tensor> d;
  for (const auto& m : adapters::read_adapter(path).modules) {
    Tensor p = toolbox::lowrank_product(m.get(adapters::Part::Up), m.get(adapters::Part::Down));
    d[m.key] = ops::scale(p, adapters::module_scale(m));
  }
  return d;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(double(a.f32()[i]) - b.f32()[i]));
  return m;
}
double fro(const Tensor& a) {
  double s = 0;
  for (float v : a.f32()) s += double(v) * v;
  return std::sqrt(s);
}

TEST(Resize, SameRankReproducesDelta) {
  std::string dir = ::testing::TempDir();
  for (std::string src : {kShared + "/refsuite/adapters/lora_a/lora_a_kohya.safetensors",
                          kShared + "/refsuite/adapters/locon_b/locon_b_kohya.safetensors"}) {
    toolbox::ResizeOptions o;
    o.rank = 4;
    auto rep = toolbox::resize_adapter(src, o, dir + "/same.safetensors");
    EXPECT_EQ(rep.new_ranks.at(4), rep.modules);
    auto a = deltas(src), b = deltas(dir + "/same.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (auto& [k, t] : a) EXPECT_LT(max_abs_diff(t, b.at(k)), 1e-5) << k;
    auto r = toolbox::inspect_adapter(dir + "/same.safetensors");
    EXPECT_EQ(r.kohya_hash_status, "matches");
  }
}

TEST(Resize, LowerRankKeepsScaleAndIsOptimal) {
  std::string src = kShared + "/refsuite/adapters/lora_a/lora_a_kohya.safetensors";
  std::string out = ::testing::TempDir() + "/r2.safetensors";
  toolbox::ResizeOptions o;
  o.rank = 2;
  toolbox::resize_adapter(src, o, out);
  auto af = adapters::read_adapter(out);
  for (const auto& m : af.modules) {
    EXPECT_EQ(m.get(adapters::Part::Down).dim(0), 2);
    EXPECT_FLOAT_EQ(m.alpha, 4.0f);  // alpha/r = 8/4 kept: 4/2
  }
  auto a = deltas(src), b = deltas(out);
  for (auto& [k, t] : a) {
    toolbox::SVD s = toolbox::svd(t);
    double tail = std::sqrt(s.S[2] * s.S[2] + s.S[3] * s.S[3]);
    EXPECT_NEAR(fro(ops::sub(t, b.at(k))), tail, 1e-5 + 1e-4 * tail) << k;
  }
  EXPECT_EQ(af.metadata.at("ss_network_dim"), "2");
}

TEST(Resize, ChooseRank) {
  using toolbox::DynamicMethod;
  std::vector<double> S = {8, 4, 2, 1};
  EXPECT_EQ(toolbox::choose_rank(S, 4, DynamicMethod::None, 0), 4);
  EXPECT_EQ(toolbox::choose_rank(S, 3, DynamicMethod::None, 0), 3);
  EXPECT_EQ(toolbox::choose_rank(S, 8, DynamicMethod::SvRatio, 3), 2);   // σ > 8/3
  EXPECT_EQ(toolbox::choose_rank(S, 8, DynamicMethod::SvRatio, 8), 3);   // σ > 1 (strict)
  EXPECT_EQ(toolbox::choose_rank(S, 8, DynamicMethod::SvCumulative, 0.9), 3);  // 12/15 < .9 ≤ 14/15
  EXPECT_EQ(toolbox::choose_rank(S, 8, DynamicMethod::SvCumulative, 0.8), 2);  // 12/15 = .8 reached
  EXPECT_EQ(toolbox::choose_rank(S, 8, DynamicMethod::SvFro, 0.95), 2);  // 80/85 ≥ .9025
  EXPECT_EQ(toolbox::choose_rank(S, 8, DynamicMethod::SvFro, 0.99), 3);  // 84/85 ≥ .9801
  EXPECT_EQ(toolbox::choose_rank(S, 1, DynamicMethod::SvFro, 0.99), 1);  // the bound
  EXPECT_EQ(toolbox::choose_rank({0, 0}, 4, DynamicMethod::None, 0), 1);
  EXPECT_THROW(toolbox::choose_rank(S, 4, DynamicMethod::SvFro, 1.5), std::runtime_error);
  EXPECT_THROW(toolbox::parse_dynamic_method("sv_knee"), std::runtime_error);
}

TEST(Resize, DynamicOnKnownSpectrum) {
  // One module with singular values 8, 4, 2, 1 (scale 1): up = U·diag(S), down = Vᵀ with orthonormal U, V.
  std::mt19937 rng(7);
  std::normal_distribution<float> n;
  std::vector<float> g(64 * 48);
  for (float& v : g) v = n(rng);
  toolbox::SVD q = toolbox::svd(Tensor::from_vector({64, 48}, g));
  const double sv[4] = {8, 4, 2, 1};
  Tensor up = Tensor::empty({64, 4}), down = Tensor::empty({4, 48});
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 4; ++j) up.f32()[i * 4 + j] = float(q.U[i * q.k + j] * sv[j]);
  for (int j = 0; j < 4; ++j)
    for (int c = 0; c < 48; ++c) down.f32()[j * 48 + c] = float(q.Vt[j * 48 + c]);
  std::string dir = ::testing::TempDir(), k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
  io::write_safetensors(dir + "/spec.safetensors",
                        {{k + ".lora_up.weight", up}, {k + ".lora_down.weight", down}, {k + ".alpha", Tensor::full({}, 4)}},
                        {{"ss_base_model_version", "sd_v1"}});
  struct Case {
    const char* method;
    double p;
    int64_t rank;
  } cases[] = {{"sv_ratio", 3, 2}, {"sv_cumulative", 0.9, 3}, {"sv_fro", 0.95, 2}};
  for (const Case& c : cases) {
    toolbox::ResizeOptions o;
    o.rank = 16;
    o.method = toolbox::parse_dynamic_method(c.method);
    o.param = c.p;
    auto rep = toolbox::resize_adapter(dir + "/spec.safetensors", o, dir + "/dyn.safetensors");
    EXPECT_EQ(rep.new_ranks.begin()->first, c.rank) << c.method;
    auto af = adapters::read_adapter(dir + "/dyn.safetensors");
    EXPECT_FLOAT_EQ(af.modules[0].alpha, float(c.rank)) << c.method;  // scale 1 kept
    double kept = 0, total = 85;
    for (int i = 0; i < c.rank; ++i) kept += sv[i] * sv[i];
    EXPECT_NEAR(rep.mean_fro_retained, std::sqrt(kept / total), 1e-9) << c.method;
    if (std::string(c.method) == "sv_fro") {
      EXPECT_GE(rep.mean_fro_retained, 0.95);
    }
    EXPECT_EQ(af.metadata.at("ss_network_dim"), "Dynamic");
  }
}

}  // namespace
