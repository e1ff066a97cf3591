// The A1111 "parameters" text (pipeline/parameters.h): field order with the model hash, the hash itself (sha256 of
// the checkpoint file, as sha256sum prints it), and the prompt tags written for adapters given outside the prompt.
#include <gtest/gtest.h>

#include "lorastack/lorastack.h"
#include "pipeline/parameters.h"

namespace {

const std::string kModels = std::string(LS_SHARED_DIR) + "/refsuite/model/";

lorastack::GenerateRequest request() {
  lorastack::GenerateRequest r;
  r.prompt = "a cat";
  r.steps = 20;
  r.seed = 42;
  r.width = r.height = 512;
  return r;
}

TEST(Parameters, ModelHashAndModelWhereA1111WritesThem) {
  auto r = request();
  r.init_image = "init.png";
  r.strength = 0.5f;
  r.clip_skip = 2;
  lorastack::ParametersInfo info{"v1-5", {}, "6ce0161689"};
  // modules/processing.py create_infotext: … Size, Model hash, Model, (Batch size), Denoising strength, Clip skip …
  EXPECT_EQ(lorastack::format_parameters(r, 2, info),
            "a cat\nSteps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: 6ce0161689, "
            "Model: v1-5, Batch size: 2, Denoising strength: 0.5, Clip skip: 2, Version: lorastack " +
                lorastack::version());
}

TEST(Parameters, WithModelHashInsertsOnceBeforeModel) {
  lorastack::ParametersInfo info{"v1-5", {}};
  const std::string text = lorastack::format_parameters(request(), 1, info);
  const std::string want = "a cat\nSteps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: "
                           "0123456789, Model: v1-5, Version: lorastack " + lorastack::version();
  EXPECT_EQ(lorastack::with_model_hash(text, "0123456789"), want);
  EXPECT_EQ(lorastack::with_model_hash(want, "0123456789"), want);  // already there: unchanged
  EXPECT_EQ(lorastack::with_model_hash(text, ""), text);            // no hash (diffusers folder): left out
  // without a Model field it follows Size; a "Model: " inside the prompt line is not the field
  lorastack::ParametersInfo nameless;
  auto r = request();
  r.prompt = "Model: x, a cat";
  EXPECT_EQ(lorastack::with_model_hash(lorastack::format_parameters(r, 1, nameless), "abcdef0123"),
            "Model: x, a cat\nSteps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: "
            "abcdef0123, Version: lorastack " + lorastack::version());
}

TEST(Parameters, CheckpointHashIsTheFilesSha256) {
  // sha256sum refsuite/model/tiny-sd1.safetensors
  EXPECT_EQ(lorastack::checkpoint_sha256(kModels + "tiny-sd1.safetensors"),
            "5e77a0188ba59dbd7b7a9e96237c655a01ef5b0a34dc802bb8d3b52fedc6cb2a");
  EXPECT_EQ(lorastack::a1111_model_hash(kModels + "tiny-sd1.safetensors"), "5e77a0188b");
  EXPECT_EQ(lorastack::a1111_model_hash(kModels + "tiny-sd1"), "");  // a diffusers folder: no single file
  EXPECT_THROW(lorastack::a1111_model_hash(kModels + "missing.safetensors"), std::runtime_error);
}

TEST(Parameters, LoraTagsAsA1111WritesThemAndReadsThemBack) {
  EXPECT_EQ(lorastack::a1111_lora_tag("style", 0.8f, 0.8f), "<lora:style:0.8>");
  EXPECT_EQ(lorastack::a1111_lora_tag("style", 0.8f, 0.25f), "<lora:style:0.25:0.8>");  // te first, then unet
  EXPECT_EQ(lorastack::a1111_lora_tag("style", 1.0f, 1.0f, "OUTD"), "<lora:style:1:lbw=OUTD>");
  EXPECT_EQ(lorastack::a1111_lora_tag("a:b", 1.0f, 1.0f), "");
  EXPECT_EQ(lorastack::a1111_lora_tag("", 1.0f, 1.0f), "");
  std::string prompt = "a cat " + lorastack::a1111_lora_tag("style", 0.8f, 0.25f, "OUTD");
  auto tags = lorastack::extract_lora_tags(prompt);
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_EQ(tags[0].path, "style");
  EXPECT_FLOAT_EQ(tags[0].unet_strength, 0.8f);
  EXPECT_FLOAT_EQ(tags[0].te_strength, 0.25f);
  EXPECT_EQ(tags[0].block_weights, "OUTD");
  EXPECT_EQ(prompt, "a cat");
}

TEST(Parameters, VersionIsTheProjectVersion) { EXPECT_EQ(lorastack::version(), LS_PROJECT_VERSION); }

}  // namespace
