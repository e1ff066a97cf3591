// Bad adapters: a clear error naming the file and key, nothing crashes, the model is left untouched.
// Also the synthetic cases of formats the refsuite has no file for (older diffusers spellings, LoKr/LoHa
// Tucker, CP, IA3, column-wise DoRA), checked against the formulas of lora-formats.md §2 written out directly.
#include "../common/error_of.h"
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "adapters/math.h"
#include "adapters/stack.h"
#include "fixtures.h"

using ls::testing::error_of;

using namespace ls;
using namespace ls::adapters;
using namespace ls::adapters_test;

namespace {

Tensor randn(const Shape& s, uint32_t seed, float scale = 0.1f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.0f, scale);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = n(g);
  return t;
}

std::shared_ptr<const Adapter> from_tensors(const std::map<std::string, Tensor>& t, const std::string& name,
                                            const LoadOptions& o = {}, std::map<std::string, std::string> md = {}) {
  io::TensorFile f;
  f.path = name;
  f.tensors = t;
  f.metadata = std::move(md);
  return resolve_adapter(parse_adapter(f), model().keymap, o);
}


const char* kQ = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q";  // [64, 64]
const char* kConv = "down_blocks.1.resnets.0.conv2";                              // [64, 64, 3, 3]

}  // namespace

TEST(AdapterGarbage, CheckpointPassedAsLora) {
  std::string e = error_of([] { read_adapter(refsuite("model/tiny-sd1.safetensors")); });
  EXPECT_NE(e.find("full model checkpoint"), std::string::npos) << e;
  EXPECT_NE(e.find("tiny-sd1.safetensors"), std::string::npos) << e;
  // a diffusers UNet file: plain weights, no adapter suffixes
  e = error_of([] { read_adapter(refsuite("model/tiny-sd1/unet/diffusion_pytorch_model.safetensors")); });
  EXPECT_NE(e.find("full model"), std::string::npos) << e;
}

TEST(AdapterGarbage, WrongShapesNameKeyAndBothShapes) {
  std::string k = std::string("lora_unet_") + "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  std::string e = error_of([&] {
    from_tensors({{k + ".lora_down.weight", randn({4, 32}, 1)}, {k + ".lora_up.weight", randn({64, 4}, 2)}}, "bad.safetensors");
  });
  EXPECT_NE(e.find("bad.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find(k), std::string::npos) << e;
  EXPECT_NE(e.find("[64, 32]"), std::string::npos) << e;
  EXPECT_NE(e.find("[64, 64]"), std::string::npos) << e;
  e = error_of([&] {
    from_tensors({{k + ".lora_down.weight", randn({4, 64}, 1)}, {k + ".lora_up.weight", randn({64, 3}, 2)}}, "bad.safetensors");
  });
  EXPECT_NE(e.find("rank mismatch"), std::string::npos) << e;
  e = error_of([&] { from_tensors({{k + ".lora_up.weight", randn({64, 4}, 2)}}, "half.safetensors"); });
  EXPECT_NE(e.find("incomplete"), std::string::npos) << e;
}

TEST(AdapterGarbage, NanNamesKey) {
  std::string k = std::string("lora_unet_") + "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  Tensor up = randn({64, 4}, 2);
  up.f32()[17] = NAN;
  std::string e = error_of([&] {
    from_tensors({{k + ".lora_down.weight", randn({4, 64}, 1)}, {k + ".lora_up.weight", up}}, "nan.safetensors");
  });
  EXPECT_NE(e.find(k + ".lora_up.weight"), std::string::npos) << e;
  EXPECT_NE(e.find("nan"), std::string::npos) << e;
}

TEST(AdapterGarbage, NoMatchAndStrict) {
  std::string e = error_of([] {
    from_tensors({{"lora_unet_nowhere.lora_down.weight", randn({4, 64}, 1)},
                  {"lora_unet_nowhere.lora_up.weight", randn({64, 4}, 2)}},
                 "nomatch.safetensors");
  });
  EXPECT_NE(e.find("none of its 1 modules"), std::string::npos) << e;
  std::string k = std::string("lora_unet_") + "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  std::map<std::string, Tensor> t = {{k + ".lora_down.weight", randn({4, 64}, 1)},
                                     {k + ".lora_up.weight", randn({64, 4}, 2)},
                                     {"lora_unet_nowhere.lora_down.weight", randn({4, 64}, 1)},
                                     {"lora_unet_nowhere.lora_up.weight", randn({64, 4}, 2)}};
  auto a = from_tensors(t, "partial.safetensors");
  EXPECT_EQ(a->report.unused_keys.size(), 2u);
  EXPECT_EQ(a->report.unused_keys[0], "lora_unet_nowhere.lora_down.weight");
  e = error_of([&] { from_tensors(t, "partial.safetensors", {.strict = true}); });
  EXPECT_NE(e.find("strict"), std::string::npos) << e;
  EXPECT_NE(e.find("lora_unet_nowhere"), std::string::npos) << e;
}

TEST(AdapterGarbage, FailedApplyLeavesModelUntouched) {
  Model& m = model();
  auto good = load_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"), m.keymap);
  AdapterStack stack(m.params());
  stack.apply({{good, 1.0f, 1.0f}});
  auto before = snapshot(m);
  EXPECT_THROW(stack.apply({{good, NAN, 1.0f}}), Error);
  // A DoRA whose low-rank part cancels row 0 of the base: ‖V[0]‖ = 0, so m/‖V‖ is not finite. The stack
  // must refuse it before writing anything (lora_a stays applied, untouched).
  std::string k = std::string("lora_unet_") + "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  Tensor w = m.find(std::string(kQ) + ".weight").base.to(DType::F32);
  Tensor up = Tensor::zeros({64, 1});
  up.f32()[0] = 1.0f;
  Tensor down = Tensor::empty({1, 64});
  for (int i = 0; i < 64; ++i) down.f32()[i] = -w.f32()[i];
  auto dora = from_tensors({{k + ".lora_down.weight", down}, {k + ".lora_up.weight", up},
                            {k + ".dora_scale", randn({64, 1}, 3)}},
                           "dora_zero.safetensors");
  std::string e = error_of([&] { stack.apply({{good, 1.0f, 1.0f}, {dora, 1.0f, 1.0f}}); });
  EXPECT_NE(e.find("dora_zero.safetensors"), std::string::npos) << e;
  EXPECT_NE(e.find(std::string(kQ) + ".weight"), std::string::npos) << e;
  auto after = snapshot(m);
  for (const auto& [name, t] : before) EXPECT_TRUE(t.shares_storage(after.at(name))) << name;
  EXPECT_EQ(stack.entries().size(), 1u);
  stack.clear();
}

TEST(AdapterGarbage, ResolvedAgainstAnotherModel) {
  Model& m = model();
  ParamTable other("unet");
  other.add(std::string(kQ) + ".weight", Tensor::zeros({64, 64}));
  ModelParams op;
  op.unet = &other;
  KeyMap km(op);
  std::string k = std::string("lora_unet_") + "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  io::TensorFile f;
  f.path = "x.safetensors";
  f.tensors = {{k + ".lora_down.weight", randn({4, 64}, 1)}, {k + ".lora_up.weight", randn({64, 4}, 2)}};
  auto a = resolve_adapter(parse_adapter(f), km);
  AdapterStack stack(m.params());
  std::string e = error_of([&] { stack.apply({{a, 1.0f, 1.0f}}); });
  EXPECT_NE(e.find("another model"), std::string::npos) << e;
}

// ---- spellings and algorithms without a refsuite file ----

TEST(AdapterSpellings, AllLoraSpellingsResolveToTheSameDelta) {
  Model& m = model();
  Tensor down = randn({4, 64}, 5), up = randn({64, 4}, 6);
  const std::string q = kQ;
  const std::string u = "down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q";
  const std::string proc = "down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_q";
  std::vector<std::pair<std::string, std::string>> forms = {
      {"lora_unet_" + u + ".lora_down.weight", "lora_unet_" + u + ".lora_up.weight"},
      {"lora_unet_" + u + "_.lora_down.weight", "lora_unet_" + u + "_.lora_up.weight"},  // stray underscore
      {"lycoris_" + u + ".lora_down.weight", "lycoris_" + u + ".lora_up.weight"},
      {"unet." + q + ".lora_A.weight", "unet." + q + ".lora_B.weight"},
      {"unet." + q + ".lora_A.default.weight", "unet." + q + ".lora_B.default.weight"},
      {"unet." + q + ".lora_A", "unet." + q + ".lora_B"},
      {"unet." + q + ".lora.down.weight", "unet." + q + ".lora.up.weight"},
      {"unet." + proc + "_lora.down.weight", "unet." + proc + "_lora.up.weight"},
      {q + ".lora_A.weight", q + ".lora_B.weight"},
      {"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight",
       "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_up.weight"},  // LDM spelling
  };
  Tensor want;
  for (const auto& [d, u2] : forms) {
    SCOPED_TRACE(d);
    auto a = from_tensors({{d, down}, {u2, up}}, "form.safetensors", {.strict = true});
    ASSERT_EQ(a->modules.size(), 1u);
    EXPECT_EQ(a->modules[0].target.weight, q + ".weight");
    Tensor dw = weight_delta(a->module(a->modules[0]), m.find(q + ".weight").value, 1.0f);
    if (!want.defined()) want = dw;
    EXPECT_EQ(max_abs_diff(dw, want), 0.0f);
  }
  // to_out processor spelling → to_out.0; TE lora_linear_layer
  auto o = from_tensors({{"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight",
                          down},
                         {"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight", up}},
                        "out.safetensors", {.strict = true});
  EXPECT_EQ(o->modules[0].target.weight, "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0.weight");
  auto te = from_tensors({{"text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_linear_layer.down.weight", randn({2, 32}, 1)},
                          {"text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_linear_layer.up.weight", randn({64, 2}, 1)},
                          {"lora_te1_text_model_encoder_layers_1_mlp_fc1.lora_down.weight", randn({2, 32}, 1)},
                          {"lora_te1_text_model_encoder_layers_1_mlp_fc1.lora_up.weight", randn({64, 2}, 1)}},
                         "te.safetensors", {.strict = true});
  EXPECT_EQ(te->report.matched_modules.at("text_encoder"), 2);
  EXPECT_EQ(te->report.format, "mixed");
}

TEST(AdapterMath, LoraBiasAndAlpha) {
  Model& m = model();
  std::string k = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0";
  Tensor down = randn({4, 64}, 5), up = randn({64, 4}, 6), b = randn({64}, 7);
  Tensor alpha = Tensor::full({}, 2.0f);
  auto a = from_tensors({{k + ".lora_A.weight", down}, {k + ".lora_B.weight", up}, {k + ".lora_B.bias", b},
                         {k + ".alpha", alpha}},
                        "bias.safetensors", {.strict = true});
  const ModuleTensors& mt = a->module(a->modules[0]);
  EXPECT_EQ(module_scale(mt), 0.5f);
  Tensor db = bias_delta(mt, {64}, -2.0f);
  for (int i = 0; i < 64; ++i) EXPECT_FLOAT_EQ(db.f32()[i], -2.0f * 0.5f * b.f32()[i]);
  (void)m;
}

// ΔW[p,q,y,x] = Σ_ij up[p,i]·mid[i,j,y,x]·down[j,q] (CP), LoHa Tucker, LoKr Tucker / 4-D kron, IA3,
// column DoRA: each against a direct loop over the formula.
TEST(AdapterMath, CpLohaLokrIa3DoraFormulas) {
  Model& m = model();
  const std::string u = std::string("lora_unet_") + "down_blocks_1_resnets_0_conv2";
  const Tensor& W = m.find(std::string(kConv) + ".weight").value;  // [64, 64, 3, 3]
  auto at4 = [](const Tensor& t, int64_t a, int64_t b, int64_t c, int64_t d) {
    return t.f32()[((a * t.dim(1) + b) * t.dim(2) + c) * t.dim(3) + d];
  };
  auto at2 = [](const Tensor& t, int64_t a, int64_t b) { return t.f32()[a * t.dim(1) + b]; };
  const int r = 3;
  {  // CP
    Tensor up = randn({64, r, 1, 1}, 1), mid = randn({r, r, 3, 3}, 2), down = randn({r, 64, 1, 1}, 3);
    auto a = from_tensors({{u + ".lora_up.weight", up}, {u + ".lora_mid.weight", mid}, {u + ".lora_down.weight", down},
                           {u + ".alpha", Tensor::full({}, 6.0f)}},
                          "cp.safetensors", {.strict = true});
    EXPECT_EQ(a->report.algo_counts.at("lora-cp"), 1);
    Tensor d = weight_delta(a->module(a->modules[0]), W, 0.5f);
    float err = 0;
    for (int p = 0; p < 64; p += 7)
      for (int q = 0; q < 64; q += 5)
        for (int y = 0; y < 3; ++y)
          for (int x = 0; x < 3; ++x) {
            double s = 0;
            for (int i = 0; i < r; ++i)
              for (int j = 0; j < r; ++j) s += at4(up, p, i, 0, 0) * at4(mid, i, j, y, x) * at4(down, j, q, 0, 0);
            err = std::max(err, std::fabs(float(0.5 * 2.0 * s) - at4(d, p, q, y, x)));
          }
    EXPECT_LE(err, 1e-6f);
  }
  {  // LoHa Tucker
    Tensor w1a = randn({r, 64}, 4), w1b = randn({r, 64}, 5), t1 = randn({r, r, 3, 3}, 6);
    Tensor w2a = randn({r, 64}, 7), w2b = randn({r, 64}, 8), t2 = randn({r, r, 3, 3}, 9);
    auto a = from_tensors({{u + ".hada_w1_a", w1a}, {u + ".hada_w1_b", w1b}, {u + ".hada_t1", t1},
                           {u + ".hada_w2_a", w2a}, {u + ".hada_w2_b", w2b}, {u + ".hada_t2", t2}},
                          "loha.safetensors", {.strict = true});
    Tensor d = weight_delta(a->module(a->modules[0]), W, 1.0f);
    float err = 0;
    for (int o = 0; o < 64; o += 9)
      for (int i = 0; i < 64; i += 11)
        for (int y = 0; y < 3; ++y)
          for (int x = 0; x < 3; ++x) {
            double s1 = 0, s2 = 0;
            for (int p = 0; p < r; ++p)
              for (int q = 0; q < r; ++q) {
                s1 += at4(t1, p, q, y, x) * at2(w1a, p, o) * at2(w1b, q, i);
                s2 += at4(t2, p, q, y, x) * at2(w2a, p, o) * at2(w2b, q, i);
              }
            err = std::max(err, std::fabs(float(s1 * s2) - at4(d, o, i, y, x)));
          }
    EXPECT_LE(err, 1e-6f);
  }
  {  // LoKr: w1 full [8, 4], w2 Tucker [8, 16, 3, 3] from t2, w2_a [r, 8], w2_b [r, 16]; alpha / w2_b rows
    Tensor w1 = randn({8, 4}, 10, 0.5f), t2 = randn({r, r, 3, 3}, 11), w2a = randn({r, 8}, 12), w2b = randn({r, 16}, 13);
    auto a = from_tensors({{u + ".lokr_w1", w1}, {u + ".lokr_t2", t2}, {u + ".lokr_w2_a", w2a}, {u + ".lokr_w2_b", w2b},
                           {u + ".alpha", Tensor::full({}, 1.5f)}},
                          "lokr.safetensors", {.strict = true});
    const ModuleTensors& mt = a->module(a->modules[0]);
    EXPECT_FLOAT_EQ(module_scale(mt), 0.5f);
    Tensor d = weight_delta(mt, W, 1.0f);
    float err = 0;
    for (int o = 0; o < 64; o += 5)
      for (int i = 0; i < 64; i += 3)
        for (int y = 0; y < 3; ++y)
          for (int x = 0; x < 3; ++x) {
            int a1 = o / 8, b1 = o % 8, c1 = i / 16, d1 = i % 16;
            double s = 0;
            for (int p = 0; p < r; ++p)
              for (int q = 0; q < r; ++q) s += at4(t2, p, q, y, x) * at2(w2a, p, b1) * at2(w2b, q, d1);
            err = std::max(err, std::fabs(float(0.5 * at2(w1, a1, c1) * s) - at4(d, o, i, y, x)));
          }
    EXPECT_LE(err, 1e-6f);
    // nothing decomposed: alpha ignored
    auto full = from_tensors({{u + ".lokr_w1", w1}, {u + ".lokr_w2", randn({8, 16, 3, 3}, 14)},
                              {u + ".alpha", Tensor::full({}, 7.0f)}},
                             "lokr_full.safetensors");
    EXPECT_EQ(module_scale(full->module(full->modules[0])), 1.0f);
  }
  {  // IA3 on output rows and on input columns: W′ = W ⊙ (1 + s·w)
    Tensor v = randn({64}, 15), vi = randn({64}, 16);
    auto out = from_tensors({{u + ".weight", v}}, "ia3.safetensors", {.strict = true});
    auto in = from_tensors({{u + ".weight", vi}, {u + ".on_input", Tensor::full({}, 1.0f)}}, "ia3i.safetensors", {.strict = true});
    EXPECT_EQ(out->report.format, "lycoris");
    Tensor d1 = weight_delta(out->module(out->modules[0]), W, 0.7f);
    Tensor d2 = weight_delta(in->module(in->modules[0]), W, 0.7f);
    float err = 0;
    for (int o = 0; o < 64; ++o)
      for (int i = 0; i < 64; ++i)
        for (int y = 0; y < 3; ++y) {
          err = std::max(err, std::fabs(0.7f * at4(W, o, i, y, 1) * v.f32()[o] - at4(d1, o, i, y, 1)));
          err = std::max(err, std::fabs(0.7f * at4(W, o, i, y, 1) * vi.f32()[i] - at4(d2, o, i, y, 1)));
        }
    EXPECT_LE(err, 1e-7f);
  }
  {  // kohya/A1111 DoRA [1, in, 1, 1]: W′ = W + s·(W_c·m/‖W_c‖_col − W), W_c = W + k·up@down
    Tensor up = randn({64, r, 1, 1}, 17), down = randn({r, 64, 3, 3}, 18), mag = randn({1, 64, 1, 1}, 19, 1.0f);
    auto a = from_tensors({{u + ".lora_up.weight", up}, {u + ".lora_down.weight", down}, {u + ".dora_scale", mag}},
                          "dora_in.safetensors", {.strict = true});
    const float s = 0.6f;
    Tensor d = weight_delta(a->module(a->modules[0]), W, s);
    std::vector<double> n2(64, 0.0);
    auto wc = [&](int o, int i, int y, int x) {
      double dl = 0;
      for (int j = 0; j < r; ++j) dl += at4(up, o, j, 0, 0) * at4(down, j, i, y, x);
      return at4(W, o, i, y, x) + dl;
    };
    for (int o = 0; o < 64; ++o)
      for (int i = 0; i < 64; ++i)
        for (int y = 0; y < 3; ++y)
          for (int x = 0; x < 3; ++x) n2[i] += wc(o, i, y, x) * wc(o, i, y, x);
    float err = 0;
    for (int o = 0; o < 64; o += 3)
      for (int i = 0; i < 64; i += 2) {
        double want = s * (wc(o, i, 1, 2) * mag.f32()[i] / std::sqrt(n2[i]) - at4(W, o, i, 1, 2));
        err = std::max(err, std::fabs(float(want) - at4(d, o, i, 1, 2)));
      }
    EXPECT_LE(err, 1e-5f);
  }
}

// An SDXL LoRA (kohya names: LDM blocks, lora_te1_/lora_te2_) given to the SD1 model: the LDM-spelled UNet
// module resolves by name but cannot fit, and the error names the key and both shapes.
TEST(AdapterGarbage, OtherFamilyAdapter) {
  std::string k = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k";  // down_blocks.1...attn2.to_k [64, 32]
  std::string e = error_of([&] {
    from_tensors({{k + ".lora_down.weight", randn({4, 2048}, 1)},
                  {k + ".lora_up.weight", randn({640, 4}, 2)},
                  {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", randn({4, 1280}, 3)},
                  {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", randn({5120, 4}, 4)}},
                 "sdxl.safetensors");
  });
  EXPECT_NE(e.find(k), std::string::npos) << e;
  EXPECT_NE(e.find("[640, 2048]"), std::string::npos) << e;
  EXPECT_NE(e.find("[64, 32]"), std::string::npos) << e;
  // Only the text-encoder-2 part: nothing matches at all.
  e = error_of([&] {
    from_tensors({{"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", randn({4, 1280}, 3)},
                  {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", randn({5120, 4}, 4)}},
                 "sdxl_te2.safetensors");
  });
  EXPECT_NE(e.find("none of its 1 modules"), std::string::npos) << e;
}
