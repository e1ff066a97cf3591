// SD1.x model graphs (CLIPTextModel, UNet2DConditionModel, AutoencoderKL) against the refsuite references
// (refsuite/README.md §4): weights from the tiny-sd1 diffusers folder (F16 on disk, computed in F32).
//
// Tolerance (refsuite §6, "single forward passes"): max |a − b| ≤ 1e-4 · max(1, max |ref|).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "io/safetensors.h"
#include "models/sd1/clip_text.h"
#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "models/sd1/params.h"
#include "models/sd1/unet.h"
#include "models/sd1/vae.h"

namespace {

using namespace ls;

const std::string kRef = std::string(LS_SHARED_DIR) + "/refsuite/";
const std::string kModel = kRef + "model/tiny-sd1/";

/// Checks shape equality and max |a − b| ≤ 1e-4 · max(1, max |ref|); prints the error either way.
void expect_close(const Tensor& got, const Tensor& ref, const std::string& what) {
  ASSERT_EQ(shape_str(got.shape()), shape_str(ref.shape())) << what;
  const Tensor r = ref.to(DType::F32);
  const Tensor g = got.to(DType::F32);
  float max_ref = 0.0f, max_diff = 0.0f;
  for (int64_t i = 0; i < r.numel(); ++i) {
    max_ref = std::max(max_ref, std::abs(r.f32()[i]));
    const float d = std::abs(r.f32()[i] - g.f32()[i]);
    if (!(d <= max_diff)) max_diff = std::isnan(d) ? INFINITY : std::max(max_diff, d);
  }
  const float tol = 1e-4f * std::max(1.0f, max_ref);
  EXPECT_LE(max_diff, tol) << what << ": max |diff| " << max_diff << " (max |ref| " << max_ref << ")";
  std::printf("  %-60s max|diff| %.3g (tol %.3g)\n", what.c_str(), max_diff, tol);
}

sd::UNetConfig tiny_unet() {
  sd::UNetConfig c;
  c.block_out_channels = {32, 64, 64, 64};
  c.num_heads = {8, 8, 8, 8};
  c.cross_attn = {true, true, true, false};
  c.cross_attention_dim = 32;
  c.sample_size = 16;
  return c;
}

sd::VAEConfig tiny_vae() {
  sd::VAEConfig c;
  c.block_out_channels = {32, 64, 64, 64};
  c.sample_size = 128;
  return c;
}

sd::CLIPTextConfig tiny_text() {
  sd::CLIPTextConfig c;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_attention_heads = 4;
  c.num_hidden_layers = 3;
  return c;
}

TEST(ClipText, MatchesReference) {
  const io::TensorFile w = io::read_safetensors(kModel + "text_encoder/model.safetensors");
  const io::TensorFile ref = io::read_safetensors(kRef + "reference/text_encoder.safetensors");
  ParamTable params = sd::make_param_table(w, "text_encoder");
  const sd::CLIPTextModel model(params, tiny_text());
  for (const std::string p : {"p0", "p1", "p2"}) {
    const Tensor& ids = ref.get(p + ".ids");
    const std::vector<Tensor> hs = model.forward(ids);
    ASSERT_EQ(hs.size(), 4u);
    for (int i = 0; i < 4; ++i)
      expect_close(hs[i], ref.get(p + ".hidden_states." + std::to_string(i)), p + ".hidden_states." + std::to_string(i));
    const Tensor last = model.encode(ids, 1);
    expect_close(last, ref.get(p + ".last_hidden_state"), p + ".last_hidden_state");
    expect_close(model.encode(ids, 2), ref.get(p + ".clip_skip_2"), p + ".clip_skip_2");
    expect_close(model.pooled(last, ids), ref.get(p + ".pooler_output"), p + ".pooler_output");
  }
}

TEST(ClipText, RejectsBadInput) {
  const io::TensorFile w = io::read_safetensors(kModel + "text_encoder/model.safetensors");
  ParamTable params = sd::make_param_table(w, "text_encoder");
  const sd::CLIPTextModel model(params, tiny_text());
  EXPECT_THROW(model.forward(Tensor::zeros({1, 78}, DType::I64)), Error);  // too long
  EXPECT_THROW(model.forward(Tensor::zeros({1, 77}, DType::F32)), Error);  // wrong dtype
  EXPECT_THROW(model.encode(Tensor::zeros({1, 77}, DType::I64), 4), Error);  // clip_skip beyond layers
  Tensor bad = Tensor::zeros({1, 4}, DType::I64);
  bad.data<int64_t>()[2] = 49408;  // outside the vocabulary
  EXPECT_THROW(model.forward(bad), Error);
  sd::CLIPTextConfig wrong = tiny_text();
  wrong.hidden_size = 64;
  EXPECT_THROW(sd::CLIPTextModel(params, wrong), Error);  // mis-shaped weights
}

TEST(UNet, MatchesReferenceAndIntermediates) {
  const io::TensorFile w = io::read_safetensors(kModel + "unet/diffusion_pytorch_model.safetensors");
  const io::TensorFile ref = io::read_safetensors(kRef + "reference/unet.safetensors");
  ParamTable params = sd::make_param_table(w, "unet");
  const sd::UNet2DConditionModel unet(params, tiny_unet());
  sd::Capture cap;
  const Tensor ts = ref.get("timesteps").to(DType::F32);  // stored I64; the model takes F32
  const Tensor eps = unet.forward(ref.get("x"), ts, ref.get("context"), &cap);
  for (const auto& [name, tensor] : ref.tensors) {
    if (name.rfind("act.", 0) != 0) continue;
    ASSERT_TRUE(cap.count(name)) << "not captured: " << name;
    expect_close(cap.at(name), tensor, name);
  }
  expect_close(eps, ref.get("eps"), "eps");
  // I64 timesteps are accepted as well.
  expect_close(unet.forward(ref.get("x"), ref.get("timesteps"), ref.get("context")), ref.get("eps"), "eps (I64 t)");
}

TEST(UNet, FractionalTimestepAndBroadcast) {
  const io::TensorFile w = io::read_safetensors(kModel + "unet/diffusion_pytorch_model.safetensors");
  const io::TensorFile ref = io::read_safetensors(kRef + "reference/unet.safetensors");
  ParamTable params = sd::make_param_table(w, "unet");
  const sd::UNet2DConditionModel unet(params, tiny_unet());
  // One [1] timestep broadcast over the batch equals the same value repeated.
  const Tensor a = unet.forward(ref.get("x"), Tensor::full({1}, 856.29f), ref.get("context"));
  const Tensor b = unet.forward(ref.get("x"), Tensor::full({2}, 856.29f), ref.get("context"));
  expect_close(a, b, "broadcast t");
  EXPECT_THROW(unet.forward(ref.get("x"), Tensor::full({3}, 1.0f), ref.get("context")), Error);
  EXPECT_THROW(unet.forward(Tensor::zeros({2, 4, 12, 12}), Tensor::full({2}, 1.0f), ref.get("context")), Error);
  EXPECT_THROW(unet.forward(ref.get("x"), Tensor::full({2}, 1.0f), Tensor::zeros({2, 77, 16})), Error);
}

TEST(Vae, DecodeMatchesReference) {
  const io::TensorFile w = io::read_safetensors(kModel + "vae/diffusion_pytorch_model.safetensors");
  const io::TensorFile ref = io::read_safetensors(kRef + "reference/vae.safetensors");
  ParamTable params = sd::make_param_table(w, "vae");
  const sd::AutoencoderKL vae(params, tiny_vae());
  sd::Capture cap;
  const Tensor img = vae.decode(ref.get("decode_input_z"), &cap);
  expect_close(cap.at("act.post_quant_conv"), ref.get("decode_post_quant_conv"), "decode_post_quant_conv");
  for (const std::string n : {"act.decoder.conv_in", "act.decoder.mid_block", "act.decoder.up_blocks.0"})
    expect_close(cap.at(n), ref.get(n), n);
  expect_close(img, ref.get("decoded"), "decoded");
}

TEST(Vae, EncodeMatchesReference) {
  const io::TensorFile w = io::read_safetensors(kModel + "vae/diffusion_pytorch_model.safetensors");
  const io::TensorFile ref = io::read_safetensors(kRef + "reference/vae.safetensors");
  ParamTable params = sd::make_param_table(w, "vae");
  const sd::AutoencoderKL vae(params, tiny_vae());
  const Tensor& image = ref.get("encode_input_image");
  expect_close(vae.encode_moments(image), ref.get("encode_moments"), "encode_moments");
  const sd::Moments m = vae.encode(image);
  expect_close(m.mean, ref.get("posterior_mean"), "posterior_mean");
  expect_close(m.logvar, ref.get("posterior_logvar"), "posterior_logvar");
  expect_close(m.std, ref.get("posterior_std"), "posterior_std");
  EXPECT_THROW(vae.encode(Tensor::zeros({1, 3, 100, 100})), Error);
  EXPECT_THROW(vae.decode(Tensor::zeros({1, 3, 16, 16})), Error);
}

/// Every 2-D / 4-D weight except the text embeddings must be applied through ls::Linear / ls::Conv2d (its
/// LayerSpec set), so LoRA side paths and fused weights reach every adaptable layer.
void expect_all_layers_bound(const ParamTable& params) {
  for (const auto& [name, p] : params.all()) {
    const bool matrix = p.base.ndim() == 2 || p.base.ndim() == 4;
    if (!matrix || name.find("embedding") != std::string::npos) continue;
    EXPECT_NE(p.spec.kind, LayerSpec::Kind::Other) << params.component() << ": not bound as a layer: " << name;
  }
}

TEST(Models, EveryWeightIsALayer) {
  const io::TensorFile wu = io::read_safetensors(kModel + "unet/diffusion_pytorch_model.safetensors");
  const io::TensorFile wv = io::read_safetensors(kModel + "vae/diffusion_pytorch_model.safetensors");
  const io::TensorFile wt = io::read_safetensors(kModel + "text_encoder/model.safetensors");
  ParamTable pu = sd::make_param_table(wu, "unet"), pv = sd::make_param_table(wv, "vae"),
             pt = sd::make_param_table(wt, "text_encoder");
  const sd::UNet2DConditionModel unet(pu, tiny_unet());
  const sd::AutoencoderKL vae(pv, tiny_vae());
  const sd::CLIPTextModel te(pt, tiny_text());
  expect_all_layers_bound(pu);
  expect_all_layers_bound(pv);
  expect_all_layers_bound(pt);
}

/// A side path adding a constant, to check that layers route runtime adapters.
class ConstantSide : public SidePath {
 public:
  explicit ConstantSide(float v) : v_(v) {}
  Tensor forward(const Tensor& x, const LayerSpec& spec) const override {
    Shape s = x.shape();
    s.back() = 32;  // out features of the layer it is attached to (q_proj 32 → 32)
    return Tensor::full(s, v_);
  }

 private:
  float v_;
};

TEST(ClipText, SidePathChangesOutput) {
  const io::TensorFile w = io::read_safetensors(kModel + "text_encoder/model.safetensors");
  const io::TensorFile ref = io::read_safetensors(kRef + "reference/text_encoder.safetensors");
  ParamTable params = sd::make_param_table(w, "text_encoder");
  const sd::CLIPTextModel model(params, tiny_text());
  const Tensor base = model.encode(ref.get("p0.ids"));
  params.get("text_model.encoder.layers.0.self_attn.v_proj.weight").side.push_back(std::make_shared<ConstantSide>(0.5f));
  const Tensor adapted = model.encode(ref.get("p0.ids"));
  float diff = 0;
  for (int64_t i = 0; i < base.numel(); ++i) diff = std::max(diff, std::abs(base.f32()[i] - adapted.f32()[i]));
  EXPECT_GT(diff, 1e-3f);
}

/// SD2's use_linear_projection path: a 1×1 conv over channels equals a Linear on [N, HW, C], so the tiny
/// UNet with proj_in/proj_out reshaped to [C, C] must reproduce the reference eps.
TEST(UNet, LinearProjectionMatchesConvProjection) {
  io::TensorFile w = io::read_safetensors(kModel + "unet/diffusion_pytorch_model.safetensors");
  const io::TensorFile ref = io::read_safetensors(kRef + "reference/unet.safetensors");
  for (auto& [name, t] : w.tensors)
    if ((name.find(".proj_in.weight") != std::string::npos || name.find(".proj_out.weight") != std::string::npos) &&
        t.ndim() == 4)
      t = t.reshape({t.dim(0), t.dim(1)});
  ParamTable params = sd::make_param_table(w, "unet");
  sd::UNetConfig cfg = tiny_unet();
  cfg.use_linear_projection = true;
  const sd::UNet2DConditionModel unet(params, cfg);
  expect_close(unet.forward(ref.get("x"), ref.get("timesteps"), ref.get("context")), ref.get("eps"), "eps (linear proj)");
  // The conv-projection model must refuse the [C, C] weights, naming the key.
  try {
    sd::UNet2DConditionModel bad(params, tiny_unet());
    ADD_FAILURE() << "expected ls::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("proj_in.weight"), std::string::npos) << e.what();
  }
}

/// A ParamTable holding deterministic small pseudo-random values for every (name, shape) of `inventory`
/// (norm weights 1): enough to run a forward pass of an architecture without reference weights.
ParamTable random_table(const std::vector<std::pair<std::string, Shape>>& inventory, const std::string& component) {
  ParamTable t(component);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (const auto& [name, shape] : inventory) {
    Tensor v = Tensor::empty(shape);
    int64_t fan_in = shape.size() > 1 ? shape_numel(shape) / shape[0] : 1;
    const float amp = 1.0f / std::sqrt(static_cast<float>(fan_in));
    const bool norm = shape.size() == 1 && name.find("norm") != std::string::npos && name.ends_with(".weight");
    for (float& x : v.f32()) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const float u = static_cast<float>(state >> 40) / static_cast<float>(1ull << 24) - 0.5f;
      x = norm ? 1.0f : amp * u;
    }
    t.add(name, v);
  }
  return t;
}

bool all_finite(const Tensor& t) {
  for (float v : t.f32())
    if (!std::isfinite(v)) return false;
  return true;
}

/// SD2-style options the tiny reference does not exercise: Linear proj_in/out, per-block head counts,
/// two transformer blocks per attention, a 3-level UNet with one resnet per level, 154-token context,
/// gelu text encoder.
/// Weights come from models/sd1/init.h's inventories (an independent reading of the diffusers layout).
TEST(Models, Sd2StyleConfigsBindAndRun) {
  sd::UNetConfig uc;
  uc.block_out_channels = {32, 64, 64};
  uc.num_heads = {2, 4, 8};
  uc.cross_attn = {true, true, false};
  uc.cross_attention_dim = 48;
  uc.use_linear_projection = true;
  uc.transformer_layers_per_block = 2;
  uc.layers_per_block = 1;
  ParamTable pu = random_table(sd::unet_param_shapes(uc), "unet");
  const sd::UNet2DConditionModel unet(pu, uc);
  expect_all_layers_bound(pu);
  sd::Capture cap;
  const Tensor eps = unet.forward(Tensor::full({2, 4, 8, 8}, 0.3f), Tensor::full({2}, 500.5f),
                                  Tensor::full({2, 154, 48}, 0.1f), &cap);
  EXPECT_EQ(shape_str(eps.shape()), "[2, 4, 8, 8]");
  EXPECT_TRUE(all_finite(eps));
  EXPECT_TRUE(cap.count("act.down_blocks.1.attentions.0.transformer_blocks.1"));

  sd::CLIPTextConfig tc = tiny_text();
  tc.hidden_act = "gelu";
  tc.num_hidden_layers = 2;
  tc.vocab_size = 1000;
  ParamTable pt = random_table(sd::text_param_shapes(tc), "text_encoder");
  const sd::CLIPTextModel te(pt, tc);
  Tensor ids = Tensor::zeros({2, 77}, DType::I64);
  ids.data<int64_t>()[0] = 999;
  const Tensor cond = te.encode(ids, 2);
  EXPECT_EQ(shape_str(cond.shape()), "[2, 77, 32]");
  EXPECT_TRUE(all_finite(cond));

  sd::VAEConfig vc;
  vc.block_out_channels = {32, 32, 64};
  vc.layers_per_block = 1;
  ParamTable pv = random_table(sd::vae_param_shapes(vc), "vae");
  const sd::AutoencoderKL vae(pv, vc);
  expect_all_layers_bound(pv);
  const Tensor img = vae.decode(Tensor::full({1, 4, 4, 4}, 0.2f));
  EXPECT_EQ(shape_str(img.shape()), "[1, 3, 16, 16]");
  EXPECT_TRUE(all_finite(img));
  const sd::Moments m = vae.encode(img);
  EXPECT_EQ(shape_str(m.mean.shape()), "[1, 4, 4, 4]");
}

/// End to end through the loader: `path` loaded with sd::load_model and built with build_components gives
/// the reference UNet eps, text conditioning and VAE decode.
void check_loaded(const std::string& path) {
  const io::TensorFile ru = io::read_safetensors(kRef + "reference/unet.safetensors");
  const io::TensorFile rt = io::read_safetensors(kRef + "reference/text_encoder.safetensors");
  const io::TensorFile rv = io::read_safetensors(kRef + "reference/vae.safetensors");
  const sd::LoadedModel lm = sd::load_model(path);
  const auto c = sd::build_components(lm);
  expect_close(c->unet->forward(ru.get("x"), ru.get("timesteps"), ru.get("context")), ru.get("eps"), "eps");
  expect_close(c->text_encoder->encode(rt.get("p1.ids")), rt.get("p1.last_hidden_state"), "p1.last_hidden_state");
  expect_close(c->vae->decode(rv.get("decode_input_z")), rv.get("decoded"), "decoded");
}

TEST(Components, FromDiffusersFolder) { check_loaded(kRef + "model/tiny-sd1"); }
TEST(Components, FromLdmSafetensors) { check_loaded(kRef + "model/tiny-sd1.safetensors"); }
TEST(Components, FromLdmCkpt) { check_loaded(kRef + "model/tiny-sd1.ckpt"); }

}  // namespace
