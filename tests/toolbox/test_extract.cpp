// lora extract: from (base, base + known low-rank ΔW) the LoRA reproduces ΔW at the right rank; modules below
// --min-diff are skipped.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "adapters/adapter_file.h"
#include "adapters/math.h"
#include "io/safetensors.h"
#include "models/sd1/init.h"
#include "models/sd1/keymap.h"
#include "runtime/ops.h"
#include "toolbox/extract.h"
#include "toolbox/inspect.h"
#include "toolbox/linalg.h"

namespace {

using namespace ls;
const std::string kShared = LS_SHARED_DIR;
const std::string kModel = kShared + "/refsuite/model/tiny-sd1.safetensors";
const std::string kYaml = kShared + "/refsuite/model/tiny-sd1.yaml";

Tensor randn(const Shape& s, float std, std::mt19937& rng) {
  std::normal_distribution<float> n(0.0f, std);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = n(rng);
  return t;
}

struct Tuned {
  std::string path;
  std::map<std::string, Tensor> delta;  // diffusers name → ΔW (F32, the weight's shape)
};

// base + ΔW on three weights (ranks 2, 2, 3) and a tiny ΔW (max 0.004) on a fourth.
Tuned make_tuned() {
  static Tuned t;
  if (!t.path.empty()) return t;
  auto f = io::read_safetensors(kModel);
  auto cfg = sd::preset_configs(sd::InitArch::Tiny).unet;
  std::mt19937 rng(11);
  std::map<std::string, Tensor> out = f.tensors;
  auto add = [&](const std::string& name, bool unet, int64_t r, float scale_to) {
    std::string key = unet ? sd::kUNetPrefix + sd::unet_diffusers_to_ldm(name, cfg) : sd::kTextPrefix + name;
    const Tensor& w = f.get(key);
    int64_t o = w.dim(0), i = w.numel() / o;
    Tensor d = ops::matmul(randn({o, r}, 0.3f, rng), randn({r, i}, 0.3f, rng));
    if (scale_to > 0) {
      float mx = 0;
      for (float v : d.f32()) mx = std::max(mx, std::abs(v));
      d = ops::scale(d, scale_to / mx);
    }
    d = d.reshape(w.shape());
    out[key] = ops::add(w.to(DType::F32), d);
    t.delta[name] = d;
  };
  add("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", true, 2, 0);
  add("down_blocks.0.resnets.0.conv1.weight", true, 2, 0);
  add("text_model.encoder.layers.0.mlp.fc1.weight", false, 3, 0);
  add("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k.weight", true, 1, 0.004f);
  t.path = ::testing::TempDir() + "/tuned.safetensors";
  io::write_safetensors(t.path, out, f.metadata);
  return t;
}

std::map<std::string, Tensor> extracted_deltas(const std::string& path) {
  std::map<std::string, Tensor> d;
  for (const auto& m : adapters::read_adapter(path).modules)
    d[m.key] = ops::scale(toolbox::lowrank_product(m.get(adapters::Part::Up), m.get(adapters::Part::Down)),
                          adapters::module_scale(m));
  return d;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(double(a.f32()[i]) - b.f32()[i]));
  return m;
}

const std::map<std::string, std::string> kKohya = {
    {"down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
     "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"},
    {"down_blocks.0.resnets.0.conv1.weight", "lora_unet_down_blocks_0_resnets_0_conv1"},
    {"text_model.encoder.layers.0.mlp.fc1.weight", "lora_te_text_model_encoder_layers_0_mlp_fc1"}};

TEST(Extract, RecoversLowRankDelta) {
  Tuned t = make_tuned();
  toolbox::ExtractOptions o;
  o.rank = 4;
  o.conv_rank = 4;
  o.clamp_quantile = 1.0;
  o.min_diff = 0.01;
  o.base_config = o.tuned_config = kYaml;
  std::string out = ::testing::TempDir() + "/extracted.safetensors";
  auto rep = toolbox::extract_lora(kModel, t.path, o, out);
  EXPECT_EQ(rep.modules, 3);
  EXPECT_EQ(rep.unet_modules, 2);
  EXPECT_EQ(rep.te_modules, 1);
  EXPECT_GT(rep.skipped, 0);
  auto d = extracted_deltas(out);
  ASSERT_EQ(d.size(), 3u);  // to_k (max |ΔW| 0.004 < 0.01) skipped
  for (auto& [name, k] : kKohya) {
    ASSERT_TRUE(d.count(k)) << k;
    EXPECT_LT(max_abs_diff(d[k], t.delta[name].reshape(d[k].shape())), 1e-5) << k;
  }
  auto r = toolbox::inspect_adapter(out);
  EXPECT_EQ(r.kohya_hash_status, "matches");
  EXPECT_EQ(r.family, "SD1.x");
}

TEST(Extract, RankIsWhatTheDeltaNeeds) {
  Tuned t = make_tuned();
  toolbox::ExtractOptions o;
  o.rank = 2;  // exact for the rank-2 weights; the rank-3 fc1 loses its last singular value
  o.conv_rank = 2;
  o.clamp_quantile = 1.0;
  o.base_config = o.tuned_config = kYaml;
  std::string out = ::testing::TempDir() + "/extracted2.safetensors";
  toolbox::extract_lora(kModel, t.path, o, out);
  auto d = extracted_deltas(out);
  std::string q = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight";
  std::string fc1 = "text_model.encoder.layers.0.mlp.fc1.weight";
  EXPECT_LT(max_abs_diff(d[kKohya.at(q)], t.delta[q]), 1e-5);
  toolbox::SVD s = toolbox::svd(t.delta[fc1]);
  Tensor err = ops::sub(d[kKohya.at(fc1)], t.delta[fc1]);
  double e = 0;
  for (float v : err.f32()) e += double(v) * v;
  EXPECT_NEAR(std::sqrt(e), s.S[2], 1e-4);  // Eckart–Young: the dropped singular value
  for (const auto& m : adapters::read_adapter(out).modules) EXPECT_EQ(m.get(adapters::Part::Down).dim(0), 2) << m.key;
  // Default clamping (0.99 quantile) runs and only shrinks values.
  o.clamp_quantile = 0.99;
  EXPECT_NO_THROW(toolbox::extract_lora(kModel, t.path, o, out));
}

TEST(Extract, NothingDiffersThrows) {
  toolbox::ExtractOptions o;
  o.base_config = o.tuned_config = kYaml;
  EXPECT_THROW(toolbox::extract_lora(kModel, kModel, o, ::testing::TempDir() + "/none.safetensors"), std::runtime_error);
  o.rank = 0;
  EXPECT_THROW(toolbox::extract_lora(kModel, kModel, o, ::testing::TempDir() + "/none.safetensors"), std::runtime_error);
}

}  // namespace
