// models list: the refsuite holds a model in three layouts and adapters of several formats.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "toolbox/scan.h"

namespace {

const std::string kShared = LS_SHARED_DIR;

TEST(Scan, Refsuite) {
  auto found = ls::toolbox::scan_models({kShared + "/refsuite", kShared + "/realworld"});
  std::map<std::string, ls::toolbox::FoundModel> by;
  for (auto& f : found) by[std::filesystem::path(f.path).lexically_relative(kShared).string()] = f;
  auto& folder = by.at("refsuite/model/tiny-sd1");
  EXPECT_EQ(folder.kind, "checkpoint");
  EXPECT_EQ(folder.layout, "diffusers folder");
  EXPECT_EQ(folder.family, "SD1.x");
  EXPECT_EQ(by.count("refsuite/model/tiny-sd1/unet/diffusion_pytorch_model.safetensors"), 0u);  // not descended
  auto& single = by.at("refsuite/model/tiny-sd1.safetensors");
  EXPECT_EQ(single.kind, "checkpoint");
  EXPECT_EQ(single.layout, "single file");
  EXPECT_EQ(single.family, "SD1.x");
  auto& ckpt = by.at("refsuite/model/tiny-sd1.ckpt");
  EXPECT_EQ(ckpt.kind, "checkpoint");
  EXPECT_EQ(ckpt.layout, "ckpt");
  EXPECT_EQ(ckpt.family, "SD1.x");
  auto& a = by.at("refsuite/adapters/lora_a/lora_a_kohya.safetensors");
  EXPECT_EQ(a.kind, "adapter");
  EXPECT_EQ(a.layout, "kohya");
  EXPECT_EQ(a.family, "SD1.x");
  EXPECT_EQ(a.detail, "lora ×140");
  auto& p = by.at("refsuite/adapters/lora_a/pytorch_lora_weights.safetensors");
  EXPECT_EQ(p.layout, "diffusers-peft");
  auto& b = by.at("refsuite/adapters/locon_b/locon_b_kohya.safetensors");
  EXPECT_EQ(b.detail.find("locon"), 0u);
  EXPECT_EQ(by.at("refsuite/adapters/loha_c/loha_c_lycoris.safetensors").layout, "lycoris");
  EXPECT_EQ(by.at("refsuite/adapters/loha_c/loha_c_lycoris.safetensors").detail, "loha ×162");
  EXPECT_EQ(by.at("refsuite/adapters/lokr_c/lokr_c_lycoris.safetensors").detail, "lokr ×178");
  EXPECT_EQ(by.at("refsuite/adapters/dora_d/dora_d_lycoris.safetensors").layout, "lycoris");
  EXPECT_EQ(by.at("refsuite/adapters/diff_e/diff_e_kohya.safetensors").detail, "diff ×4");
  auto& pk = by.at("realworld/sd15-pokemon-lora.safetensors");
  EXPECT_EQ(pk.kind, "adapter");
  EXPECT_EQ(pk.layout, "diffusers-old");
  EXPECT_EQ(pk.family, "SD1.x");
  EXPECT_EQ(pk.detail, "lora ×128");
  EXPECT_EQ(by.at("refsuite/adapters/lora_a/expected.safetensors").kind, "unknown");
  EXPECT_FALSE(ls::toolbox::models_table(found).empty());
}

TEST(Scan, MissingRootThrowsBadFileIsUnknown) {
  EXPECT_THROW(ls::toolbox::scan_models({"/nonexistent-dir"}), std::runtime_error);
  std::string bad = ::testing::TempDir() + "/bad.safetensors";
  FILE* f = fopen(bad.c_str(), "wb");
  fputs("garbage", f);
  fclose(f);
  auto r = ls::toolbox::classify_path(bad);
  EXPECT_EQ(r.kind, "unknown");
  EXPECT_FALSE(r.detail.empty());
}

}  // namespace
