// Resource limits (pipeline/limits.h, issue 4): every oversized request is refused before any work,
// with a one-line error naming the field, its value and the limit; the Engine applies them.
#include "../common/error_of.h"
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "pipeline/limits.h"
#include "runtime/error.h"

using ls::testing::error_of;

namespace {

using namespace lorastack;

const std::string kRef = std::string(LS_SHARED_DIR) + "/refsuite/";


bool has(const std::string& msg, const std::string& part) { return msg.find(part) != std::string::npos; }

GenerateRequest ok_request() {
  GenerateRequest r;
  r.prompt = "a photo of a cat";
  r.width = r.height = 512;
  return r;
}

TEST(Limits, ValidRequestPasses) {
  EXPECT_NO_THROW(limits::check_request(ok_request(), 64));
  GenerateRequest r = ok_request();
  r.width = r.height = 4096;
  r.batch_size = 1;
  r.steps = limits::kMaxSteps;
  r.cfg_scale = -limits::kMaxCfgScale;
  EXPECT_NO_THROW(limits::check_request(r, 64));
}

TEST(Limits, ImageSize) {
  GenerateRequest r = ok_request();
  r.width = 16384;
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 8); }), "size 16384x512: width and height must be in 1..8192"));
  r.width = 0;
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 8); }), "size 0x512"));
  r.width = -64;
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 8); }), "size -64x512"));
  r.width = 520;  // not a multiple of 64 (a 4-level UNet)
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 64); }), "positive multiples of 64"));
  r.width = r.height = 8192;  // each side allowed, the area is not
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 64); }), "67108864 pixels, more than the limit of 16777216"));
}

TEST(Limits, StepsBatchCfg) {
  GenerateRequest r = ok_request();
  r.steps = 0;
  EXPECT_EQ(error_of([&] { limits::check_request(r, 8); }), "steps 0: must be in 1..1000");
  r.steps = 100000;
  EXPECT_EQ(error_of([&] { limits::check_request(r, 8); }), "steps 100000: must be in 1..1000");
  r = ok_request();
  r.batch_size = 65;
  EXPECT_EQ(error_of([&] { limits::check_request(r, 8); }), "batch size 65: must be in 1..64");
  r.batch_size = 0;
  EXPECT_EQ(error_of([&] { limits::check_request(r, 8); }), "batch size 0: must be in 1..64");
  r.batch_size = 8;  // 8 × 2048² is over the batch area
  r.width = r.height = 2048;
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 8); }), "more than the limit of 16777216"));
  r = ok_request();
  r.cfg_scale = NAN;
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 8); }), "cfg scale nan"));
  r.cfg_scale = 1e6f;
  EXPECT_TRUE(has(error_of([&] { limits::check_request(r, 8); }), "within ±100"));
}

TEST(Limits, PromptLength) {
  GenerateRequest r = ok_request();
  r.prompt.assign(limits::kMaxPromptBytes, 'a');
  EXPECT_NO_THROW(limits::check_request(r, 8));
  r.prompt.push_back('a');
  EXPECT_EQ(error_of([&] { limits::check_request(r, 8); }), "prompt of 65537 bytes: longer than the limit of 65536 bytes");
  r = ok_request();
  r.negative_prompt.assign(1 << 20, 'b');
  EXPECT_EQ(error_of([&] { limits::check_request(r, 8); }),
            "negative prompt of 1048576 bytes: longer than the limit of 65536 bytes");
}

TEST(Limits, AdapterStack) {
  std::vector<LoraSpec> stack(limits::kMaxAdapters, LoraSpec{"a.safetensors", 1.0f, 1.0f});
  EXPECT_NO_THROW(limits::check_lora_stack(stack));
  stack.push_back(stack.back());
  EXPECT_EQ(error_of([&] { limits::check_lora_stack(stack); }), "65 adapters in one stack: more than the limit of 64");
  EXPECT_EQ(error_of([] { limits::check_lora_stack({{"", 1.0f, 1.0f}}); }), "adapter 1 of the stack: empty path");
  EXPECT_EQ(error_of([] { limits::check_lora_stack({{"x.safetensors", INFINITY, 1.0f}}); }),
            "x.safetensors: strength inf must be finite and within ±100");
  EXPECT_EQ(error_of([] { limits::check_lora_stack({{"x.safetensors", 1.0f, -1e9f}}); }),
            "x.safetensors: strength -1000000000 must be finite and within ±100");
}

// The Engine applies the limits before any work: each refused request returns at once.
TEST(Limits, EngineRefusesBeforeWork) {
  ModelOptions options;
  options.model = kRef + "model/tiny-sd1.safetensors";
  options.tokenizer_dir = kRef + "model/tiny-sd1/tokenizer";
  Engine engine(options);
  GenerateRequest r;
  r.prompt = "x";
  r.width = r.height = 8192;
  EXPECT_TRUE(has(error_of([&] { engine.generate(r); }), "more than the limit of 16777216"));
  r.width = r.height = 64;
  r.steps = 5000;
  EXPECT_EQ(error_of([&] { engine.generate(r); }), "steps 5000: must be in 1..1000");
  r.steps = 1;
  r.prompt.assign(100000, 'x');
  EXPECT_TRUE(has(error_of([&] { engine.generate(r); }), "prompt of 100000 bytes"));
  std::vector<LoraSpec> many(100, LoraSpec{"missing.safetensors", 1.0f, 1.0f});
  EXPECT_EQ(error_of([&] { engine.set_loras(many); }), "100 adapters in one stack: more than the limit of 64");
  // A starting-noise file whose batch is over the limit.
  auto dir = std::filesystem::temp_directory_path() / "lorastack-test-limits";
  std::filesystem::create_directories(dir);
  const std::string noise = (dir / "noise.safetensors").string();
  ls::io::write_safetensors(noise, {{"noise", ls::Tensor::zeros({65, 4, 8, 8})}});
  r.prompt = "x";
  r.initial_noise = noise;
  EXPECT_EQ(error_of([&] { engine.generate(r); }), "initial noise batch 65: must be in 1..64");
  std::filesystem::remove_all(dir);
}

}  // namespace
