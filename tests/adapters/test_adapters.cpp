// LoRA-family adapters against refsuite/adapters (README §5): parsing, key resolution, fused weights,
// stack rules, garbage input. Forward-pass tests live in test_adapters_forward.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "adapters/stack.h"
#include "adapters/math.h"
#include "io/safetensors.h"
#include "fixtures.h"

using namespace ls;
using namespace ls::adapters;
using namespace ls::adapters_test;

namespace {

struct Counts {
  const char* file;
  const char* format;
  int unet, te;
};

void expect_counts(const Adapter& a, int unet, int te) {
  auto get = [&](const char* c) {
    auto it = a.report.matched_modules.find(c);
    return it == a.report.matched_modules.end() ? 0 : it->second;
  };
  EXPECT_EQ(get("unet"), unet) << a.report.summary();
  EXPECT_EQ(get("text_encoder"), te) << a.report.summary();
  EXPECT_TRUE(a.report.unused_keys.empty()) << a.report.summary() << " first unused: " << a.report.unused_keys.front();
}

}  // namespace

TEST(AdapterFiles, EveryFileFormMatchesEveryTarget) {
  Model& m = model();
  const Counts cases[] = {
      {"lora_a/pytorch_lora_weights.safetensors", "diffusers-peft", 128, 12},
      {"lora_a/pytorch_lora_weights_te_text_model_prefix.safetensors", "diffusers-peft", 128, 12},
      {"lora_a/lora_a_kohya.safetensors", "kohya", 128, 12},
      {"locon_b/locon_b_kohya.safetensors", "kohya", 236, 18},
      {"loha_c/loha_c_lycoris.safetensors", "lycoris", 150, 12},
      {"lokr_c/lokr_c_lycoris.safetensors", "lycoris", 160, 18},
      {"dora_d/pytorch_lora_weights.safetensors", "diffusers-peft", 128, 12},
      {"dora_d/dora_d_lycoris.safetensors", "lycoris", 128, 12},
      {"diff_e/diff_e_kohya.safetensors", "lycoris", 3, 1},
  };
  for (const Counts& c : cases) {
    SCOPED_TRACE(c.file);
    auto a = load_adapter(adapter_path(c.file), m.keymap, {.strict = true});
    EXPECT_EQ(a->report.format, c.format);
    expect_counts(*a, c.unet, c.te);
  }
  auto kohya = load_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"), m.keymap);
  EXPECT_EQ(kohya->report.family, "SD1.x");
  EXPECT_EQ(kohya->report.algo_counts.at("lora"), 140);
  auto locon = load_adapter(adapter_path("locon_b/locon_b_kohya.safetensors"), m.keymap);
  EXPECT_GT(locon->report.algo_counts.at("locon"), 0);
  auto dora = load_adapter(adapter_path("dora_d/dora_d_lycoris.safetensors"), m.keymap);
  EXPECT_EQ(dora->report.algo_counts.at("dora"), 140);
}

TEST(AdapterFiles, PeftAlphaComesFromMetadata) {
  auto f = read_adapter(adapter_path("lora_a/pytorch_lora_weights.safetensors"));
  ASSERT_FALSE(f.modules.empty());
  for (const auto& m : f.modules) {
    ASSERT_TRUE(m.has_alpha) << m.key;
    EXPECT_EQ(m.alpha, 8.0f) << m.key;
    EXPECT_EQ(module_scale(m), 2.0f) << m.key;
  }
}

// The three lora_a files hold the same numbers: the fused weights must be identical.
TEST(AdapterFuse, ThreeLoraFileFormsGiveIdenticalWeights) {
  Model& m = model();
  AdapterStack stack(m.params());
  std::vector<std::map<std::string, Tensor>> results;
  for (const char* f : {"lora_a/pytorch_lora_weights.safetensors",
                        "lora_a/pytorch_lora_weights_te_text_model_prefix.safetensors", "lora_a/lora_a_kohya.safetensors"}) {
    auto a = load_adapter(adapter_path(f), m.keymap);
    stack.apply({{a, 0.6f, -0.5f}});
    results.push_back(snapshot(m));
  }
  stack.clear();
  ASSERT_EQ(results[0].size(), results[1].size());
  for (const auto& [name, t] : results[0]) {
    EXPECT_LE(max_abs_diff(t, results[1].at(name)), 0.0f) << name;
    EXPECT_LE(max_abs_diff(t, results[2].at(name)), 1e-6f * std::max(1.0f, max_abs(t))) << name;
  }
}

TEST(AdapterFuse, StackMergedWeightsMatchReference) {
  Model& m = model();
  io::TensorFile ref = io::read_safetensors(adapter_path("stack_f/expected.safetensors"));
  auto lora = load_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"), m.keymap);
  auto loha = load_adapter(adapter_path("loha_c/loha_c_lycoris.safetensors"), m.keymap);
  auto locon = load_adapter(adapter_path("locon_b/locon_b_kohya.safetensors"), m.keymap);
  AdapterStack stack(m.params());
  stack.apply({{lora, 0.8f, 0.8f}, {loha, 0.5f, 0.5f}, {locon, 1.2f, 1.2f}});
  int checked = 0;
  for (const auto& [key, t] : ref.tensors) {
    if (key.rfind("merged.", 0) != 0) continue;
    std::string name = key.substr(7);
    const Param& p = m.find(name);
    Tensor want = t.to(DType::F32);
    EXPECT_LE(max_abs_diff(p.value, want), 1e-5f * std::max(1.0f, max_abs(want))) << name;
    EXPECT_LE(max_abs_diff(p.base.to(DType::F32), ref.get("base." + name).to(DType::F32)), 0.0f) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 3);
  stack.clear();
}

TEST(AdapterFuse, ClearRestoresBaseExactly) {
  Model& m = model();
  auto before = snapshot(m);
  AdapterStack stack(m.params());
  for (const char* f : {"lora_a/lora_a_kohya.safetensors", "dora_d/dora_d_lycoris.safetensors",
                        "diff_e/diff_e_kohya.safetensors", "lokr_c/lokr_c_lycoris.safetensors"}) {
    auto a = load_adapter(adapter_path(f), m.keymap);
    stack.apply({{a, 1.0f, 1.0f}});
    EXPECT_GT(stack.last_stats().recomputed, 0) << f;
  }
  stack.clear();
  auto after = snapshot(m);
  for (const auto& [name, t] : before) EXPECT_EQ(max_abs_diff(t, after.at(name)), 0.0f) << name;
  for (auto [c, table] : m.params().tables())
    for (const auto& [name, p] : table->all()) {
      EXPECT_TRUE(p.side.empty()) << name;
      if (p.base.dtype() == DType::F32) {
        EXPECT_TRUE(p.value.shares_storage(p.base)) << name;
      }
    }
}

TEST(AdapterFuse, StackOrderNeverChangesTheWeights) {
  Model& m = model();
  std::vector<StackEntry> e = {
      {load_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"), m.keymap), 0.8f, 0.7f},
      {load_adapter(adapter_path("loha_c/loha_c_lycoris.safetensors"), m.keymap), 0.5f, -0.3f},
      {load_adapter(adapter_path("locon_b/locon_b_kohya.safetensors"), m.keymap), 1.2f, 1.0f},
      {load_adapter(adapter_path("dora_d/dora_d_lycoris.safetensors"), m.keymap), 0.6f, 0.6f},
  };
  AdapterStack stack(m.params());
  std::vector<int> order = {0, 1, 2, 3};
  std::map<std::string, Tensor> first;
  do {
    std::vector<StackEntry> s;
    for (int i : order) s.push_back(e[i]);
    AdapterStack fresh(m.params());
    fresh.apply(s);
    auto snap = snapshot(m);
    fresh.clear();
    if (first.empty()) {
      first = snap;
      continue;
    }
    for (const auto& [name, t] : first) ASSERT_EQ(max_abs_diff(t, snap.at(name)), 0.0f) << name;
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(AdapterFuse, OnlyChangedParametersAreRecomputed) {
  Model& m = model();
  auto lora = load_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"), m.keymap);
  auto diff = load_adapter(adapter_path("diff_e/diff_e_kohya.safetensors"), m.keymap);
  AdapterStack stack(m.params());
  stack.apply({{lora, 1.0f, 1.0f}});
  EXPECT_EQ(stack.last_stats().recomputed, 140);
  stack.apply({{lora, 1.0f, 1.0f}, {diff, 1.0f, 1.0f}});
  // diff_e: 4 weights + 3 biases; one weight (attn1.to_q of down_blocks.0.attentions.0) is shared with lora_a
  EXPECT_EQ(stack.last_stats().recomputed, 7);
  EXPECT_EQ(stack.last_stats().unchanged, 139);
  stack.apply({{lora, 1.0f, 0.0f}, {diff, 1.0f, 1.0f}});  // TE strength 0: 12 TE weights restored, 1 recomputed (fc1)
  EXPECT_EQ(stack.last_stats().restored, 12);
  stack.apply({{lora, 1.0f, 0.0f}});
  EXPECT_EQ(stack.last_stats().restored, 6);  // 3 biases + fc1, conv1, proj_out weights; to_q recomputed
  stack.clear();
}

TEST(AdapterFuse, DeltaScalesLinearlyWithStrength) {
  Model& m = model();
  auto a = load_adapter(adapter_path("locon_b/locon_b_kohya.safetensors"), m.keymap);
  AdapterStack stack(m.params());
  const std::string conv = "down_blocks.1.resnets.0.conv1.weight";
  const std::string te = "text_model.encoder.layers.0.mlp.fc1.weight";
  stack.apply({{a, 1.0f, 1.0f}});
  Tensor d1 = sub(m.find(conv).value, m.find(conv).base), t1 = sub(m.find(te).value, m.find(te).base);
  stack.apply({{a, -0.5f, 0.25f}});
  Tensor d2 = sub(m.find(conv).value, m.find(conv).base), t2 = sub(m.find(te).value, m.find(te).base);
  EXPECT_GT(max_abs(d1), 0.0f);
  EXPECT_LE(max_abs_diff(scaled(d1, -0.5f), d2), 1e-6f);
  EXPECT_LE(max_abs_diff(scaled(t1, 0.25f), t2), 1e-6f);
  stack.clear();
}

// The PEFT DoRA file and the LyCORIS (wd_on_out) file hold the same numbers; both follow the PEFT rule.
TEST(AdapterFuse, DoraPeftAndLycorisLayoutsAgree) {
  Model& m = model();
  auto peft = load_adapter(adapter_path("dora_d/pytorch_lora_weights.safetensors"), m.keymap);
  auto lyco = load_adapter(adapter_path("dora_d/dora_d_lycoris.safetensors"), m.keymap);
  for (float s : {1.0f, 0.6f, -0.5f}) {
    AdapterStack stack(m.params());
    stack.apply({{peft, s, s}});
    auto a = snapshot(m);
    stack.apply({{lyco, s, s}});
    auto b = snapshot(m);
    stack.clear();
    for (const auto& [name, t] : a) EXPECT_LE(max_abs_diff(t, b.at(name)), 1e-5f * std::max(1.0f, max_abs(t))) << name;
  }
}
