// load_model on the three refsuite forms of tiny-sd1 (LDM safetensors ± yaml, zip ckpt, diffusers folder).
#include <gtest/gtest.h>

#include <filesystem>

#include "io/weights.h"
#include "models/sd1/loader.h"
#include "test_util.h"

using namespace ls;
using ls::test::refsuite;

namespace {

void expect_same_tensors(const io::TensorFile& a, const io::TensorFile& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size()) << a.path << " vs " << b.path;
  for (const auto& [k, t] : a.tensors) {
    ASSERT_TRUE(b.has(k)) << k;
    EXPECT_TRUE(ls::test::same_tensor(t, b.get(k))) << k;
  }
}

void expect_same_configs(const sd::LoadedModel& a, const sd::LoadedModel& b, bool compare_sample_size = true) {
  const auto &u = a.unet_config, &v = b.unet_config;
  EXPECT_EQ(u.in_channels, v.in_channels);
  EXPECT_EQ(u.out_channels, v.out_channels);
  EXPECT_EQ(u.block_out_channels, v.block_out_channels);
  EXPECT_EQ(u.layers_per_block, v.layers_per_block);
  EXPECT_EQ(u.num_heads, v.num_heads);
  EXPECT_EQ(u.cross_attn, v.cross_attn);
  EXPECT_EQ(u.cross_attention_dim, v.cross_attention_dim);
  EXPECT_EQ(u.use_linear_projection, v.use_linear_projection);
  EXPECT_EQ(u.transformer_layers_per_block, v.transformer_layers_per_block);
  EXPECT_EQ(u.norm_num_groups, v.norm_num_groups);
  if (compare_sample_size) {
    EXPECT_EQ(u.sample_size, v.sample_size);
  }
  const auto &x = a.vae_config, &y = b.vae_config;
  EXPECT_EQ(x.block_out_channels, y.block_out_channels);
  EXPECT_EQ(x.layers_per_block, y.layers_per_block);
  EXPECT_EQ(x.latent_channels, y.latent_channels);
  EXPECT_EQ(x.in_channels, y.in_channels);
  EXPECT_EQ(x.out_channels, y.out_channels);
  EXPECT_FLOAT_EQ(x.scaling_factor, y.scaling_factor);
  EXPECT_EQ(x.use_quant_conv, y.use_quant_conv);
  if (compare_sample_size) {
    EXPECT_EQ(x.sample_size, y.sample_size);
  }
  const auto &s = a.text_config, &t = b.text_config;
  EXPECT_EQ(s.vocab_size, t.vocab_size);
  EXPECT_EQ(s.hidden_size, t.hidden_size);
  EXPECT_EQ(s.intermediate_size, t.intermediate_size);
  EXPECT_EQ(s.num_attention_heads, t.num_attention_heads);
  EXPECT_EQ(s.num_hidden_layers, t.num_hidden_layers);
  EXPECT_EQ(s.max_position_embeddings, t.max_position_embeddings);
  EXPECT_EQ(s.hidden_act, t.hidden_act);
  EXPECT_EQ(s.bos_token_id, t.bos_token_id);
  EXPECT_EQ(s.eos_token_id, t.eos_token_id);
  EXPECT_EQ(s.pad_token_id, t.pad_token_id);
  const auto &p = a.scheduler_config, &q = b.scheduler_config;
  EXPECT_EQ(p.num_train_timesteps, q.num_train_timesteps);
  EXPECT_FLOAT_EQ(p.beta_start, q.beta_start);
  EXPECT_FLOAT_EQ(p.beta_end, q.beta_end);
  EXPECT_EQ(p.beta_schedule, q.beta_schedule);
  EXPECT_EQ(p.prediction_type, q.prediction_type);
}

const sd::LoadedModel& folder() {
  static sd::LoadedModel m = sd::load_model(refsuite("model/tiny-sd1"));
  return m;
}

}  // namespace

TEST(Loader, FolderConfigsAndCounts) {
  const auto& m = folder();
  EXPECT_EQ(m.family, sd::Family::SD1);
  EXPECT_EQ(m.unet.tensors.size(), 684u);
  EXPECT_EQ(m.vae.tensors.size(), 244u);
  EXPECT_EQ(m.text_encoder.tensors.size(), 52u);
  EXPECT_EQ(m.unet_config.block_out_channels, (std::vector<int>{32, 64, 64, 64}));
  EXPECT_EQ(m.unet_config.num_heads, (std::vector<int>{8, 8, 8, 8}));
  EXPECT_EQ(m.unet_config.cross_attn, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(m.unet_config.cross_attention_dim, 32);
  EXPECT_EQ(m.text_config.num_attention_heads, 4);
  EXPECT_EQ(m.text_config.pad_token_id, 49407);
  EXPECT_EQ(m.scheduler_config.steps_offset, 1);
  EXPECT_EQ(m.vae.get("encoder.mid_block.attentions.0.to_q.weight").shape(), (Shape{64, 64}));
  EXPECT_FALSE(m.tokenizer_dir.empty());
  EXPECT_TRUE(std::filesystem::exists(m.tokenizer_dir + "/vocab.json"));
}

TEST(Loader, SafetensorsWithSidecarYamlEqualsFolder) {
  auto m = sd::load_model(refsuite("model/tiny-sd1.safetensors"));  // tiny-sd1.yaml sits next to it
  EXPECT_EQ(m.family, sd::Family::SD1);
  expect_same_tensors(folder().unet, m.unet);
  expect_same_tensors(folder().vae, m.vae);
  expect_same_tensors(folder().text_encoder, m.text_encoder);
  expect_same_configs(folder(), m);
  EXPECT_EQ(m.ignored_keys.size(), 13u);  // 12 DDPM buffers + position_ids
  EXPECT_TRUE(m.tokenizer_dir.empty());
}

TEST(Loader, SafetensorsExplicitYamlEqualsFolder) {
  auto m = sd::load_model(refsuite("model/tiny-sd1.safetensors"), refsuite("model/tiny-sd1.yaml"));
  expect_same_configs(folder(), m);
}

TEST(Loader, SafetensorsWithoutYamlInfersConfigs) {
  // Copy (symlink) the file to a folder without a sidecar yaml: everything comes from the shapes.
  std::string dir = ls::test::temp_dir("loader_noyaml");
  std::string p = dir + "/tiny.safetensors";
  std::filesystem::create_symlink(refsuite("model/tiny-sd1.safetensors"), p);
  auto m = sd::load_model(p);
  EXPECT_EQ(m.family, sd::Family::SD1);
  expect_same_tensors(folder().unet, m.unet);
  expect_same_tensors(folder().vae, m.vae);
  expect_same_tensors(folder().text_encoder, m.text_encoder);
  // sample sizes are not visible in the weights
  expect_same_configs(folder(), m, /*compare_sample_size=*/false);
}

TEST(Loader, CkptEqualsFolder) {
  auto m = sd::load_model(refsuite("model/tiny-sd1.ckpt"));  // sidecar yaml is tiny-sd1.yaml
  EXPECT_EQ(m.family, sd::Family::SD1);
  expect_same_tensors(folder().unet, m.unet);
  expect_same_tensors(folder().vae, m.vae);
  expect_same_tensors(folder().text_encoder, m.text_encoder);
  expect_same_configs(folder(), m);
}

TEST(Loader, CkptAndSafetensorsHoldTheSameRawTensors) {
  auto a = io::read_checkpoint(refsuite("model/tiny-sd1.ckpt"));
  auto b = io::read_checkpoint(refsuite("model/tiny-sd1.safetensors"));
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [k, t] : b.tensors) {
    ASSERT_TRUE(a.has(k)) << k;
    EXPECT_EQ(a.get(k).dtype(), t.dtype()) << k;
    ASSERT_EQ(a.get(k).nbytes(), t.nbytes()) << k;
    EXPECT_EQ(std::memcmp(a.get(k).raw(), t.raw(), t.nbytes()), 0) << k;
  }
}

TEST(Loader, DetectFamily) {
  auto raw = io::read_checkpoint(refsuite("model/tiny-sd1.safetensors"));
  EXPECT_EQ(sd::detect_family(raw.tensors), sd::Family::SD1);
  EXPECT_EQ(sd::detect_family(folder().unet.tensors), sd::Family::SD1);
  // SD2: Linear proj_in and context 1024
  std::map<std::string, Tensor> sd2{
      {"model.diffusion_model.input_blocks.1.1.proj_in.weight", Tensor::zeros({320, 320})},
      {"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", Tensor::zeros({320, 1024})}};
  EXPECT_EQ(sd::detect_family(sd2), sd::Family::SD2);
  // SDXL: label_emb
  auto xl = sd2;
  xl["model.diffusion_model.label_emb.0.0.weight"] = Tensor::zeros({4, 4});
  EXPECT_EQ(sd::detect_family(xl), sd::Family::SDXL);
  EXPECT_EQ(sd::detect_family({{"foo.weight", Tensor::zeros({2})}}), sd::Family::Unknown);
  EXPECT_STREQ(sd::family_name(sd::Family::SD1), "SD1.x");
  EXPECT_STREQ(sd::family_name(sd::Family::SDXL), "SDXL");
}

TEST(Loader, UnsupportedFamiliesAreNamed) {
  std::string dir = ls::test::temp_dir("loader_family");
  std::map<std::string, Tensor> xl{
      {"model.diffusion_model.label_emb.0.0.weight", Tensor::zeros({4, 4})},
      {"model.diffusion_model.input_blocks.1.1.proj_in.weight", Tensor::zeros({8, 8})}};
  io::write_safetensors(dir + "/xl.safetensors", xl);
  EXPECT_TRUE(ls::test::throws_with([&] { sd::load_model(dir + "/xl.safetensors"); },
                                    {"xl.safetensors", "SDXL", "not supported yet"}));
  io::write_safetensors(dir + "/other.safetensors", {{"foo.weight", Tensor::zeros({2})}});
  EXPECT_TRUE(ls::test::throws_with([&] { sd::load_model(dir + "/other.safetensors"); },
                                    {"other.safetensors", "unknown", "not supported yet"}));
}

TEST(Loader, MissingAndMisshapedKeysAreNamed) {
  std::string dir = ls::test::temp_dir("loader_missing");
  auto raw = io::read_checkpoint(refsuite("model/tiny-sd1.safetensors"));
  auto t = raw.tensors;
  t.erase("model.diffusion_model.input_blocks.4.0.skip_connection.weight");
  io::write_safetensors(dir + "/missing.safetensors", t, raw.metadata);
  EXPECT_TRUE(ls::test::throws_with(
      [&] { sd::load_model(dir + "/missing.safetensors", refsuite("model/tiny-sd1.yaml")); },
      {"missing.safetensors", "model.diffusion_model.input_blocks.4.0.skip_connection.weight", "missing", "[64, 32, 1, 1]"}));
  t = raw.tensors;
  t["first_stage_model.decoder.conv_in.weight"] = Tensor::zeros({64, 4, 3, 1}, DType::F16);
  io::write_safetensors(dir + "/shape.safetensors", t, raw.metadata);
  EXPECT_TRUE(ls::test::throws_with(
      [&] { sd::load_model(dir + "/shape.safetensors", refsuite("model/tiny-sd1.yaml")); },
      {"shape.safetensors", "first_stage_model.decoder.conv_in.weight", "[64, 4, 3, 1]", "[64, 4, 3, 3]"}));
}

TEST(Loader, NonFilePaths) {
  EXPECT_TRUE(ls::test::throws_with([] { sd::load_model("/nonexistent/model.safetensors"); },
                                    {"/nonexistent/model.safetensors", "no such file"}));
  EXPECT_TRUE(ls::test::throws_with([] { sd::load_model("/dev/null"); }, {"/dev/null", "not a regular file"}));
  EXPECT_TRUE(ls::test::throws_with([] { io::read_checkpoint("/tmp"); }, {"/tmp", "not a regular file"}));
  std::string dir = ls::test::temp_dir("loader_emptydir");
  EXPECT_TRUE(ls::test::throws_with([&] { sd::load_model(dir); }, {dir, "not a diffusers model folder"}));
}
