// --lora arguments, A1111 prompt tags, name resolution, short hashes, and the real-world LoRA on the SD1.5 layout.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "adapters/adapter.h"
#include "adapters/spec.h"
#include "fixtures.h"
#include "models/sd1/init.h"

using namespace ls;
using namespace ls::adapters;
using namespace ls::adapters_test;

TEST(LoraSpec, CliArgument) {
  LoraSpec a = parse_lora_arg("style.safetensors");
  EXPECT_EQ(a.name, "style.safetensors");
  EXPECT_EQ(a.unet_strength, 1.0f);
  EXPECT_EQ(a.te_strength, 1.0f);
  a = parse_lora_arg("style:0.7");
  EXPECT_EQ(a.name, "style");
  EXPECT_FLOAT_EQ(a.unet_strength, 0.7f);
  EXPECT_FLOAT_EQ(a.te_strength, 0.7f);
  a = parse_lora_arg("dir/x.safetensors:-0.5:0.25");
  EXPECT_EQ(a.name, "dir/x.safetensors");
  EXPECT_FLOAT_EQ(a.unet_strength, -0.5f);
  EXPECT_FLOAT_EQ(a.te_strength, 0.25f);
  a = parse_lora_arg("C:\\loras\\x.safetensors:0.5");
  EXPECT_EQ(a.name, "C:\\loras\\x.safetensors");
  a = parse_lora_arg("a:b:1:2:3");  // only two trailing numbers are strengths
  EXPECT_EQ(a.name, "a:b:1");
  EXPECT_THROW(parse_lora_arg(":0.5"), Error);
  EXPECT_THROW(parse_lora_arg("x:inf"), Error);
}

TEST(LoraSpec, PromptTags) {
  std::vector<LoraSpec> s;
  std::string p = extract_prompt_loras("a cat <lora:ink:0.8>, <lora:glow:0.5:1.2> on mars <lyco:loha> <b>", s);
  EXPECT_EQ(p, "a cat , on mars <b>");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].name, "ink");
  EXPECT_FLOAT_EQ(s[0].te_strength, 0.8f);
  EXPECT_FLOAT_EQ(s[0].unet_strength, 0.8f);
  EXPECT_FLOAT_EQ(s[1].te_strength, 0.5f);  // A1111 order: te, then unet
  EXPECT_FLOAT_EQ(s[1].unet_strength, 1.2f);
  EXPECT_EQ(s[2].name, "loha");
  EXPECT_EQ(s[2].unet_strength, 1.0f);
  s.clear();
  extract_prompt_loras("<lora:n:unet=0.3:te=0.9:lbw=MIDD>", s);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FLOAT_EQ(s[0].te_strength, 0.9f);
  EXPECT_FLOAT_EQ(s[0].unet_strength, 0.3f);
  s.clear();
  extract_prompt_loras("<lora:n:te=0.4>", s);
  EXPECT_FLOAT_EQ(s[0].unet_strength, 0.4f);
  EXPECT_THROW(extract_prompt_loras("<lora:n:abc>", s), Error);
}

TEST(LoraSpec, NameResolution) {
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / "ls_adapters_resolve";
  fs::remove_all(d);
  fs::create_directories(d / "styles");
  std::ofstream(d / "styles" / "ink.safetensors") << "x";
  std::ofstream(d / "styles" / "ink.pt") << "x";
  EXPECT_EQ(resolve_lora_path("ink", {d.string()}), (d / "styles" / "ink.safetensors").string());
  EXPECT_EQ(resolve_lora_path("styles/ink", {d.string()}), (d / "styles" / "ink.safetensors").string());
  std::string e;
  try {
    resolve_lora_path("nope", {d.string()});
  } catch (const Error& x) {
    e = x.what();
  }
  EXPECT_NE(e.find("nope"), std::string::npos) << e;
  EXPECT_NE(e.find(d.string()), std::string::npos) << e;
  fs::remove_all(d);
}

TEST(LoraSpec, ShortHashIsTheA1111AddnetHash) {
  auto f = read_adapter(adapter_path("lora_a/lora_a_kohya.safetensors"));
  EXPECT_EQ(f.short_hash, "3d2b3c2180ef");  // sha256 of the bytes after the header (python hashlib)
}

TEST(LoraSpec, LoadStackUsesTheCache) {
  Model& m = model();
  AdapterCache cache;
  std::string dir = std::string(LS_SHARED_DIR) + "/refsuite/adapters";
  auto e = load_stack({parse_lora_arg("lora_a_kohya:0.7"), parse_lora_arg("locon_b_kohya:0.4:0.2")}, {dir}, m.keymap, cache);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_FLOAT_EQ(e[1].te_strength, 0.2f);
  auto again = load_stack({parse_lora_arg("lora_a_kohya:1")}, {dir}, m.keymap, cache);
  EXPECT_EQ(again[0].adapter.get(), e[0].adapter.get());  // not re-read
  EXPECT_EQ(e[0].adapter->report.short_hash, "3d2b3c2180ef");
}

// The real-world diffusers LoRA (old `.lora.up/.lora.down` spelling) on the SD1.5 UNet layout from
// models/sd1/init.h: every tensor matched. Shapes only — the tables view one shared zero buffer.
TEST(RealWorld, PokemonLoraMatchesSd15Layout) {
  sd::ModelConfigs cfg = sd::preset_configs(sd::InitArch::SD1);
  auto shapes = sd::unet_param_shapes(cfg.unet);
  auto text = sd::text_param_shapes(cfg.text);
  int64_t biggest = 0;
  for (const auto& [n, s] : shapes) biggest = std::max(biggest, shape_numel(s));
  for (const auto& [n, s] : text) biggest = std::max(biggest, shape_numel(s));
  auto buf = std::shared_ptr<float>(new float[biggest](), std::default_delete<float[]>());
  ParamTable unet("unet"), te("text_encoder");
  for (const auto& [n, s] : shapes)
    unet.add(n, Tensor::wrap(s, DType::F32, buf.get(), shape_numel(s) * 4, buf));
  for (const auto& [n, s] : text) te.add(n, Tensor::wrap(s, DType::F32, buf.get(), shape_numel(s) * 4, buf));
  ModelParams p;
  p.unet = &unet;
  p.text_encoder = &te;
  p.unet_config = &cfg.unet;
  KeyMap km(p);
  auto a = load_adapter(std::string(LS_SHARED_DIR) + "/realworld/sd15-pokemon-lora.safetensors", km, {.strict = true});
  EXPECT_EQ(a->report.matched_modules.at("unet"), 128);
  EXPECT_EQ(a->report.matched_tensors, 256);
  EXPECT_TRUE(a->report.unused_keys.empty());
  EXPECT_EQ(a->report.format, "diffusers-old");
  EXPECT_EQ(a->report.family, "SD1.x");
  EXPECT_EQ(a->report.short_hash, "cd36169e8059");
  std::printf("  %s\n", a->report.summary().c_str());
  // LDM spellings resolve on the real layout too (kohya SDXL-style names for SD1)
  EXPECT_NE(km.find("lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q"), nullptr);
  EXPECT_EQ(km.find("lora_unet_output_blocks_11_1_proj_out")->weight, "up_blocks.3.attentions.2.proj_out.weight");
  EXPECT_EQ(km.find("lora_unet_middle_block_1_proj_in")->weight, "mid_block.attentions.0.proj_in.weight");
  EXPECT_EQ(km.find("lora_unet_input_blocks_4_0_in_layers_2")->weight, "down_blocks.1.resnets.0.conv1.weight");
}
