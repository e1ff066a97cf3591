#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lorastack/lorastack.h"
#include "pipeline/parameters.h"
#include "runtime/error.h"

TEST(LoraTags, A1111Forms) {
  std::string p = "a castle <lora:style:0.8>, night <lora:char:0.5:1.2> <lora:plain> <lyco:x:te=0.3:unet=0.6>";
  auto tags = lorastack::extract_lora_tags(p);
  EXPECT_EQ(p, "a castle , night");
  ASSERT_EQ(tags.size(), 4u);
  EXPECT_EQ(tags[0].path, "style");
  EXPECT_FLOAT_EQ(tags[0].te_strength, 0.8f);
  EXPECT_FLOAT_EQ(tags[0].unet_strength, 0.8f);
  EXPECT_FLOAT_EQ(tags[1].te_strength, 0.5f);
  EXPECT_FLOAT_EQ(tags[1].unet_strength, 1.2f);
  EXPECT_FLOAT_EQ(tags[2].te_strength, 1.0f);
  EXPECT_FLOAT_EQ(tags[3].te_strength, 0.3f);
  EXPECT_FLOAT_EQ(tags[3].unet_strength, 0.6f);
  std::string bad = "x <lora:style:abc>";
  EXPECT_THROW(lorastack::extract_lora_tags(bad), ls::Error);
  std::string none = "no tags (masterpiece:1.2)";
  EXPECT_TRUE(lorastack::extract_lora_tags(none).empty());
  EXPECT_EQ(none, "no tags (masterpiece:1.2)");
}

TEST(LoraTags, ResolveNamesInFolder) {
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / "lorastack-test-resolve";
  fs::remove_all(d);
  fs::create_directories(d / "styles");
  std::ofstream(d / "styles" / "ink.safetensors") << "x";
  std::ofstream(d / "char.ckpt") << "x";
  EXPECT_EQ(lorastack::resolve_lora("ink", d.string()), (d / "styles" / "ink.safetensors").string());
  EXPECT_EQ(lorastack::resolve_lora("styles/ink", d.string()), (d / "styles" / "ink.safetensors").string());
  EXPECT_EQ(lorastack::resolve_lora("char", d.string()), (d / "char.ckpt").string());
  try {
    lorastack::resolve_lora("nope", d.string());
    FAIL();
  } catch (const ls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
}

TEST(Parameters, A1111Text) {
  lorastack::GenerateRequest r;
  r.prompt = "a cat";
  r.negative_prompt = "blurry";
  r.steps = 20;
  r.sampler = "dpm++2m";
  r.scheduler = "karras";
  r.seed = 42;
  r.width = r.height = 512;
  r.clip_skip = 2;
  lorastack::ParametersInfo info{"v1-5", {{"style", "0123456789ab"}}};
  EXPECT_EQ(lorastack::format_parameters(r, 1, info),
            "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, "
            "Seed: 42, Size: 512x512, Model: v1-5, Clip skip: 2, Lora hashes: \"style: 0123456789ab\", Version: "
            "lorastack 0.1.0");
}
