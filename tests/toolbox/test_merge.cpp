// lora merge: a checkpoint with adapters merged in generates what the runtime stack generates; adapters merged
// exactly into one equal their stack.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "adapters/adapter.h"
#include "adapters/block_weights.h"
#include "adapters/stack.h"
#include "io/safetensors.h"
#include "models/sd1/components.h"
#include "runtime/ops.h"
#include "toolbox/inspect.h"
#include "toolbox/merge.h"

namespace {

using namespace ls;
const std::string kShared = LS_SHARED_DIR;
const std::string kModel = kShared + "/refsuite/model/tiny-sd1.safetensors";
const std::string kYaml = kShared + "/refsuite/model/tiny-sd1.yaml";
const std::string kAd = kShared + "/refsuite/adapters/";

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  Tensor x = a.to(DType::F32), y = b.to(DType::F32);
  double m = 0;
  for (int64_t i = 0; i < x.numel(); ++i) m = std::max(m, std::abs(double(x.f32()[i]) - y.f32()[i]));
  return m;
}

struct Model {
  sd::LoadedModel lm;
  std::unique_ptr<sd::Components> c;
  adapters::ModelParams mp;
  std::unique_ptr<adapters::KeyMap> km;
  explicit Model(const std::string& path) : lm(sd::load_model(path, kYaml)), c(sd::build_components(lm)) {
    mp.unet = &c->unet_params;
    mp.text_encoder = &c->text_params;
    mp.unet_config = &lm.unet_config;
    km = std::make_unique<adapters::KeyMap>(mp);
  }
  std::vector<adapters::StackEntry> entries(const std::vector<toolbox::MergeInput>& in) {
    std::vector<adapters::StackEntry> e;
    for (const auto& l : in) e.push_back({adapters::load_adapter(l.path, *km), l.unet_strength, l.te_strength});
    return e;
  }
};

const std::vector<toolbox::MergeInput> kStackF = {{kAd + "lora_a/lora_a_kohya.safetensors", 0.8f, 0.8f},
                                                 {kAd + "loha_c/loha_c_lycoris.safetensors", 0.5f, 0.5f},
                                                 {kAd + "locon_b/locon_b_kohya.safetensors", 1.2f, 1.2f}};

TEST(Merge, CheckpointEqualsRuntimeStack) {
  auto unet_in = io::read_safetensors(kShared + "/refsuite/reference/unet.safetensors");
  auto expected = io::read_safetensors(kAd + "stack_f/expected.safetensors");
  const Tensor& x = unet_in.get("x");
  const Tensor& ts = unet_in.get("timesteps");
  const Tensor& ctx = unet_in.get("context");
  const Tensor& ids = expected.get("te_input_ids");

  Model base(kModel);
  adapters::AdapterStack stack(base.mp);
  stack.apply(base.entries(kStackF), adapters::ApplyMode::Runtime);
  EXPECT_GT(stack.last_stats().side_paths, 0);
  Tensor eps_rt = base.c->unet->forward(x, ts, ctx);
  Tensor te_rt = base.c->text_encoder->encode(ids);

  std::string out = ::testing::TempDir() + "/merged.safetensors";
  auto rep = toolbox::merge_into_checkpoint(kModel, kYaml, kStackF, out, DType::F32);
  EXPECT_EQ(rep.adapters.size(), 3u);
  EXPECT_GT(rep.weights, 0);
  Model merged(out);
  EXPECT_EQ(merged.lm.family, sd::Family::SD1);
  Tensor eps_m = merged.c->unet->forward(x, ts, ctx);
  Tensor te_m = merged.c->text_encoder->encode(ids);
  EXPECT_LT(max_abs_diff(eps_m, eps_rt), 1e-4);
  EXPECT_LT(max_abs_diff(te_m, te_rt), 1e-4);
  // and both equal the reference stack (PEFT / LyCORIS oracle)
  EXPECT_LT(max_abs_diff(eps_m, expected.get("eps")), 1e-4);
  EXPECT_LT(max_abs_diff(te_m, expected.get("te_last_hidden_state")), 1e-4);
  // the VAE is carried over unchanged
  for (const auto& [k, t] : base.lm.vae.tensors) EXPECT_EQ(max_abs_diff(t, merged.lm.vae.get(k)), 0.0) << k;
  // keeping the stored dtype (F16) is the default
  toolbox::merge_into_checkpoint(kModel, kYaml, kStackF, ::testing::TempDir() + "/merged16.safetensors");
  auto f16 = io::read_safetensors(::testing::TempDir() + "/merged16.safetensors");
  EXPECT_EQ(f16.get("model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight").dtype(), DType::F16);
  EXPECT_THROW(toolbox::merge_into_checkpoint(kModel, kYaml, kStackF, ::testing::TempDir() + "/x.ckpt"), std::runtime_error);
}

// Fused weights of `stack_entries` on the tiny model, by "component:name".
std::map<std::string, Tensor> fused(Model& m, const std::vector<toolbox::MergeInput>& in) {
  adapters::AdapterStack stack(m.mp);
  stack.apply(m.entries(in), adapters::ApplyMode::Fuse);
  std::map<std::string, Tensor> out;
  for (auto [c, table] : m.mp.tables())
    for (auto& [k, p] : table->all()) out[std::string(adapters::component_name(c)) + ":" + k] = p.value.clone();
  stack.clear();
  return out;
}

TEST(Merge, AdaptersExactlyAndBySvd) {
  Model m(kModel);
  std::vector<toolbox::MergeInput> in = {{kAd + "lora_a/lora_a_kohya.safetensors", 0.8f, -0.5f},
                                         {kAd + "locon_b/locon_b_kohya.safetensors", 1.2f, 0.5f},
                                         {kAd + "lora_a/pytorch_lora_weights.safetensors", 0.3f, 0.3f}};
  auto want = fused(m, in);
  std::string dir = ::testing::TempDir();
  auto rep = toolbox::merge_adapters(in, 0, dir + "/concat.safetensors");
  EXPECT_EQ(rep.max_rank, 12);  // attention weights hit by all three rank-4 adapters
  auto got = fused(m, {{dir + "/concat.safetensors", 1.0f, 1.0f}});
  double worst = 0;
  for (auto& [k, t] : want) worst = std::max(worst, max_abs_diff(t, got.at(k)));
  EXPECT_LT(worst, 1e-5);
  EXPECT_EQ(toolbox::inspect_adapter(dir + "/concat.safetensors").kohya_hash_status, "matches");

  // SVD to a rank that holds the whole sum is exact too; a lower rank is not.
  toolbox::merge_adapters(in, 12, dir + "/svd12.safetensors");
  auto got12 = fused(m, {{dir + "/svd12.safetensors", 1.0f, 1.0f}});
  worst = 0;
  for (auto& [k, t] : want) worst = std::max(worst, max_abs_diff(t, got12.at(k)));
  EXPECT_LT(worst, 1e-5);
  rep = toolbox::merge_adapters(in, 2, dir + "/svd2.safetensors");
  EXPECT_EQ(rep.max_rank, 2);
  auto got2 = fused(m, {{dir + "/svd2.safetensors", 1.0f, 1.0f}});
  worst = 0;
  for (auto& [k, t] : want) worst = std::max(worst, max_abs_diff(t, got2.at(k)));
  EXPECT_GT(worst, 1e-3);

  EXPECT_THROW(toolbox::merge_adapters({{kAd + "loha_c/loha_c_lycoris.safetensors"}}, 0, dir + "/x.safetensors"),
               std::runtime_error);
  EXPECT_THROW(toolbox::merge_adapters({}, 0, dir + "/x.safetensors"), std::runtime_error);
}

// A1111 LoRA Block Weight: merging with lbw= scales each module by its block's ratio. Checked against the stack at
// strength 1 with the test's own block table read off the LDM names of the merged file (LoRA is linear in the
// strength, so merged = base + ratio·(full − base)), and the adapter merge with lbw= against the stack with lbw=.
TEST(Merge, BlockWeightsScaleEachBlock) {
  const std::string lbw = "0.5,1,0,0.25,2,-1,0.75,1.5,0,1,0.3,0.6,0.9,1.2,0,1,0.4";  // 17 values
  const std::vector<std::string> ids17 = {"BASE", "IN01", "IN02", "IN04", "IN05", "IN07", "IN08", "M00", "OUT03",
                                          "OUT04", "OUT05", "OUT06", "OUT07", "OUT08", "OUT09", "OUT10", "OUT11"};
  std::vector<float> r17;
  for (size_t a = 0, b; a != std::string::npos; a = b == std::string::npos ? b : b + 1) {
    b = lbw.find(',', a);
    r17.push_back(std::stof(lbw.substr(a, b == std::string::npos ? b : b - a)));
  }
  // LDM key → ratio: text encoder BASE, input_blocks.N → INnn, middle_block → M00, output_blocks.N → OUTnn
  auto ratio_of = [&](const std::string& key) -> float {
    std::string id;
    if (key.rfind("cond_stage_model.", 0) == 0) id = "BASE";
    const std::string dm = "model.diffusion_model.";
    auto num = [&](const std::string& p) { return std::stoi(key.substr(dm.size() + p.size())); };
    if (key.rfind(dm + "input_blocks.", 0) == 0) id = fmt::format("IN{:02}", num("input_blocks."));
    if (key.rfind(dm + "middle_block.", 0) == 0) id = "M00";
    if (key.rfind(dm + "output_blocks.", 0) == 0) id = fmt::format("OUT{:02}", num("output_blocks."));
    if (id.empty()) return 1.0f;
    for (size_t i = 0; i < ids17.size(); ++i)
      if (ids17[i] == id) return r17[i];
    return 0.0f;  // blocks a 17-vector does not name
  };
  const std::string lora = kAd + "lora_a/lora_a_kohya.safetensors";
  const std::string dir = ::testing::TempDir();
  toolbox::merge_into_checkpoint(kModel, kYaml, {{lora, 1.0f, 1.0f}}, dir + "/full.safetensors", DType::F32);
  toolbox::merge_into_checkpoint(kModel, kYaml, {{lora, 1.0f, 1.0f, lbw}}, dir + "/lbw.safetensors", DType::F32);
  auto base = io::read_safetensors(kModel);
  auto full = io::read_safetensors(dir + "/full.safetensors");
  auto got = io::read_safetensors(dir + "/lbw.safetensors");
  int changed = 0, scaled = 0;
  std::set<float> seen;
  for (const auto& [k, t] : full.tensors) {
    if (!base.has(k)) continue;
    Tensor b = base.get(k).to(DType::F32), f = t.to(DType::F32);
    if (max_abs_diff(b, f) == 0) continue;  // not adapted
    ++changed;
    const float r = ratio_of(k);
    seen.insert(r);
    Tensor want = ops::add(b, ops::scale(ops::sub(f, b), r));
    EXPECT_LT(max_abs_diff(got.get(k), want), 1e-5) << k << " ratio " << r;
    if (r != 1.0f) ++scaled;
  }
  EXPECT_EQ(changed, 140);
  EXPECT_GT(scaled, 100);
  EXPECT_GE(seen.size(), 10u);  // the adapter reaches most blocks

  // One adapter with the block weights baked in (--concat) equals the stack with lbw=.
  Model m(kModel);
  toolbox::merge_adapters({{lora, 1.0f, 1.0f, lbw}}, 0, dir + "/lbw-concat.safetensors");
  auto baked = fused(m, {{dir + "/lbw-concat.safetensors", 1.0f, 1.0f}});
  adapters::AdapterStack stack(m.mp);
  adapters::StackEntry e{adapters::load_adapter(lora, *m.km), 1.0f, 1.0f};
  e.module_scale = adapters::block_scale(adapters::parse_block_weights(lbw), m.lm.unet_config);
  stack.apply({e}, adapters::ApplyMode::Fuse);
  double worst = 0;
  for (auto [c, table] : m.mp.tables())
    for (auto& [k, p] : table->all())
      worst = std::max(worst, max_abs_diff(p.value, baked.at(std::string(adapters::component_name(c)) + ":" + k)));
  EXPECT_LT(worst, 1e-5);
  EXPECT_THROW(toolbox::merge_adapters({{lora, 1.0f, 1.0f, "BOGUS"}}, 0, dir + "/x.safetensors"), std::runtime_error);
}

}  // namespace
