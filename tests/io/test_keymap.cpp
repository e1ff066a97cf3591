// LDM ↔ diffusers key maps and the parameter inventories, checked against the refsuite key sets.
#include <gtest/gtest.h>

#include <set>

#include "io/weights.h"
#include "models/sd1/init.h"
#include "models/sd1/keymap.h"
#include "models/sd1/loader.h"
#include "test_util.h"

using namespace ls;
using ls::test::refsuite;

namespace {

struct Fixture {
  io::TensorFile ldm, unet, vae, text;
  sd::ModelConfigs cfg = sd::preset_configs(sd::InitArch::Tiny);
  Fixture()
      : ldm(io::read_checkpoint(refsuite("model/tiny-sd1.safetensors"))),
        unet(io::read_checkpoint(refsuite("model/tiny-sd1/unet/diffusion_pytorch_model.safetensors"))),
        vae(io::read_checkpoint(refsuite("model/tiny-sd1/vae/diffusion_pytorch_model.safetensors"))),
        text(io::read_checkpoint(refsuite("model/tiny-sd1/text_encoder/model.safetensors"))) {}
};
const Fixture& fx() {
  static Fixture f;
  return f;
}

std::map<std::string, Shape> as_map(const std::vector<std::pair<std::string, Shape>>& v) {
  std::map<std::string, Shape> m;
  for (const auto& [k, s] : v) EXPECT_TRUE(m.emplace(k, s).second) << "duplicate " << k;
  return m;
}
std::map<std::string, Shape> shapes_of(const io::TensorFile& f, bool skip_position_ids = true) {
  std::map<std::string, Shape> m;
  for (const auto& [k, t] : f.tensors)
    if (!skip_position_ids || k.find("position_ids") == std::string::npos) m[k] = t.shape();
  return m;
}

}  // namespace

TEST(Keymap, UNetEveryDiffusersKeyMapsToTheLdmFileAndBack) {
  const auto& f = fx();
  size_t n = 0;
  for (const auto& [k, t] : f.unet.tensors) {
    std::string l = sd::unet_diffusers_to_ldm(k, f.cfg.unet);
    ASSERT_FALSE(l.empty()) << k;
    ASSERT_TRUE(f.ldm.has(sd::kUNetPrefix + l)) << k << " -> " << l;
    EXPECT_EQ(f.ldm.get(sd::kUNetPrefix + l).shape(), t.shape()) << k;
    EXPECT_EQ(sd::unet_ldm_to_diffusers(l, f.cfg.unet), k);
    ++n;
  }
  EXPECT_EQ(n, 684u);
}

TEST(Keymap, UNetModulePathsAndUnknownNames) {
  const auto& c = fx().cfg.unet;
  EXPECT_EQ(sd::unet_diffusers_to_ldm("down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_q", c),
            "input_blocks.2.1.transformer_blocks.0.attn1.to_q");
  EXPECT_EQ(sd::unet_diffusers_to_ldm("up_blocks.0.upsamplers.0.conv.weight", c), "output_blocks.2.1.conv.weight");
  EXPECT_EQ(sd::unet_diffusers_to_ldm("up_blocks.1.upsamplers.0.conv.weight", c), "output_blocks.5.2.conv.weight");
  EXPECT_EQ(sd::unet_diffusers_to_ldm("down_blocks.2.downsamplers.0.conv.bias", c), "input_blocks.9.0.op.bias");
  EXPECT_EQ(sd::unet_diffusers_to_ldm("mid_block.resnets.1.time_emb_proj", c), "middle_block.2.emb_layers.1");
  EXPECT_EQ(sd::unet_ldm_to_diffusers("output_blocks.11.0.skip_connection", c), "up_blocks.3.resnets.2.conv_shortcut");
  EXPECT_EQ(sd::unet_ldm_to_diffusers("input_blocks.1.1.proj_in", c), "down_blocks.0.attentions.0.proj_in");
  EXPECT_EQ(sd::unet_diffusers_to_ldm("down_blocks.9.resnets.0.conv1.weight", c), "");
  EXPECT_EQ(sd::unet_diffusers_to_ldm("down_blocks.3.downsamplers.0.conv.weight", c), "");  // last level has none
  EXPECT_EQ(sd::unet_ldm_to_diffusers("input_blocks.x.0.op.weight", c), "");
  EXPECT_EQ(sd::unet_ldm_to_diffusers("label_emb.0.0.weight", c), "");
  // SD1.5 sizes: 12 input blocks, upsamplers at output_blocks.2.1 / 5.2 / 8.2
  sd::UNetConfig sd15;
  EXPECT_EQ(sd::unet_diffusers_to_ldm("up_blocks.2.upsamplers.0.conv.weight", sd15), "output_blocks.8.2.conv.weight");
  EXPECT_EQ(sd::unet_ldm_to_diffusers("input_blocks.11.0.out_layers.3.weight", sd15), "down_blocks.3.resnets.1.conv2.weight");
}

TEST(Keymap, VAEEveryDiffusersKeyMapsToTheLdmFileAndBack) {
  const auto& f = fx();
  for (const auto& [k, t] : f.vae.tensors) {
    std::string l = sd::vae_diffusers_to_ldm(k, f.cfg.vae);
    ASSERT_FALSE(l.empty()) << k;
    ASSERT_TRUE(f.ldm.has(sd::kVAEPrefix + l)) << k << " -> " << l;
    const Shape& ls = f.ldm.get(sd::kVAEPrefix + l).shape();
    Shape want = sd::vae_is_attention_projection(k) ? Shape{t.dim(0), t.dim(1), 1, 1} : t.shape();
    EXPECT_EQ(ls, want) << k;
    EXPECT_EQ(sd::vae_ldm_to_diffusers(l, f.cfg.vae), k);
  }
  EXPECT_EQ(sd::vae_modernize_name("encoder.mid_block.attentions.0.proj_attn.weight"),
            "encoder.mid_block.attentions.0.to_out.0.weight");
  EXPECT_EQ(sd::vae_diffusers_to_ldm("decoder.up_blocks.3.upsamplers.0.conv.weight", f.cfg.vae), "");
}

TEST(Keymap, TextEncoderPrefix) {
  const auto& f = fx();
  for (const auto& [k, t] : f.text.tensors) {
    EXPECT_TRUE(f.ldm.has(sd::kTextPrefix + sd::text_diffusers_to_ldm(k))) << k;
    EXPECT_EQ(sd::text_ldm_to_diffusers(sd::text_diffusers_to_ldm(k)), k);
  }
  EXPECT_EQ(sd::text_ldm_to_diffusers("encoder.layers.0.mlp.fc1.weight"), "text_model.encoder.layers.0.mlp.fc1.weight");
  EXPECT_EQ(sd::text_ldm_to_diffusers("logit_scale"), "");
}

TEST(Keymap, OpenClipSplitsInProj) {
  const int64_t H = 8;
  std::vector<float> w(3 * H * H), b(3 * H);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i);
  std::map<std::string, Tensor> oc{
      {"transformer.resblocks.0.attn.in_proj_weight", Tensor::from_vector({3 * H, H}, w)},
      {"transformer.resblocks.0.attn.in_proj_bias", Tensor::from_vector({3 * H}, b)},
      {"transformer.resblocks.0.attn.out_proj.weight", Tensor::zeros({H, H})},
      {"transformer.resblocks.0.ln_1.weight", Tensor::zeros({H})},
      {"transformer.resblocks.0.mlp.c_fc.weight", Tensor::zeros({4 * H, H})},
      {"transformer.resblocks.0.mlp.c_proj.bias", Tensor::zeros({H})},
      {"positional_embedding", Tensor::zeros({77, H})},
      {"token_embedding.weight", Tensor::zeros({100, H})},
      {"ln_final.bias", Tensor::zeros({H})},
      {"text_projection", Tensor::zeros({H, H})},
      {"logit_scale", Tensor::zeros({1})}};
  std::vector<std::string> ignored;
  auto hf = sd::openclip_to_hf(oc, "sd2.ckpt", &ignored);
  EXPECT_EQ(ignored.size(), 2u);
  const auto& k = hf.at("text_model.encoder.layers.0.self_attn.k_proj.weight");
  EXPECT_EQ(k.shape(), (Shape{H, H}));
  EXPECT_EQ(k.f32()[0], static_cast<float>(H * H));
  EXPECT_EQ(hf.at("text_model.encoder.layers.0.self_attn.v_proj.bias").f32()[0], static_cast<float>(2 * H));
  EXPECT_TRUE(hf.count("text_model.encoder.layers.0.self_attn.out_proj.weight"));
  EXPECT_TRUE(hf.count("text_model.encoder.layers.0.layer_norm1.weight"));
  EXPECT_TRUE(hf.count("text_model.encoder.layers.0.mlp.fc1.weight"));
  EXPECT_TRUE(hf.count("text_model.encoder.layers.0.mlp.fc2.bias"));
  EXPECT_TRUE(hf.count("text_model.embeddings.position_embedding.weight"));
  EXPECT_TRUE(hf.count("text_model.embeddings.token_embedding.weight"));
  EXPECT_TRUE(hf.count("text_model.final_layer_norm.bias"));
  std::map<std::string, Tensor> badshape{{"transformer.resblocks.0.attn.in_proj_weight", Tensor::zeros({10, 4})}};
  EXPECT_TRUE(ls::test::throws_with([&] { sd::openclip_to_hf(badshape, "sd2.ckpt", nullptr); },
                                    {"sd2.ckpt", "in_proj_weight", "[10, 4]"}));
}

TEST(ParamShapes, TinyConfigEqualsRefsuiteKeySets) {
  const auto& f = fx();
  EXPECT_EQ(as_map(sd::unet_param_shapes(f.cfg.unet)), shapes_of(f.unet));
  EXPECT_EQ(as_map(sd::vae_param_shapes(f.cfg.vae)), shapes_of(f.vae));
  EXPECT_EQ(as_map(sd::text_param_shapes(f.cfg.text)), shapes_of(f.text));
  // parameter counts from refsuite/README.md §3
  auto count = [](const std::vector<std::pair<std::string, Shape>>& v) {
    int64_t n = 0;
    for (const auto& [k, s] : v) n += shape_numel(s);
    return n;
  };
  EXPECT_EQ(count(sd::unet_param_shapes(f.cfg.unet)), 3222692);
  EXPECT_EQ(count(sd::vae_param_shapes(f.cfg.vae)), 1732679);
  EXPECT_EQ(count(sd::text_param_shapes(f.cfg.text)), 1609216);
}

TEST(ParamShapes, SD15Counts) {
  // Well-known SD1.5 sizes: UNet 859,520,964, VAE 83,653,863, CLIP ViT-L/14 text 123,060,480 parameters.
  auto cfg = sd::preset_configs(sd::InitArch::SD1);
  auto count = [](const std::vector<std::pair<std::string, Shape>>& v) {
    int64_t n = 0;
    for (const auto& [k, s] : v) n += shape_numel(s);
    return n;
  };
  EXPECT_EQ(count(sd::unet_param_shapes(cfg.unet)), 859520964);
  EXPECT_EQ(count(sd::vae_param_shapes(cfg.vae)), 83653863);
  EXPECT_EQ(count(sd::text_param_shapes(cfg.text)), 123060480);
}
