// A1111 prompt editing / alternation through lorastack::Engine (issue 6), on the refsuite's tiny SD1 model,
// for every sampler. The conditioning follows A1111's CFGDenoiser.step (one per denoiser call, from 0) over
// A1111's total_steps (2·steps for heun, dpm2, dpm2_a, dpm++2s_a), so:
//   - "a [cat:dog:0.5]" gives final latents different from both "a cat" and "a dog";
//   - "a [cat:dog:100]" (switch past the last step) gives exactly the latents of "a cat";
//   - a switch at the last denoiser call's index keeps "a cat" for every call (exactly "a cat"), one call
//     earlier changes the last call (different latents) — this pins the step counting.
// Exact comparisons (bitwise) because the same texts give the same conditioning tensors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "sampling/sampler.h"

namespace {

const std::string kRef = std::string(LS_SHARED_DIR) + "/refsuite/";

// per process: ctest runs the tests of this binary as concurrent processes
std::string tmp(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("lorastack-test-prompt-schedule-" + std::to_string(::getpid()));
  std::filesystem::create_directories(d);
  return (d / name).string();
}

lorastack::Engine& engine() {
  static lorastack::Engine e([] {
    lorastack::ModelOptions o;
    o.model = kRef + "model/tiny-sd1";
    o.tokenizer_dir = kRef + "model/tiny-sd1/tokenizer";
    return o;
  }());
  return e;
}

constexpr int kSteps = 3;

bool second_order(const std::string& s) { return s == "heun" || s == "dpm2" || s == "dpm2_a" || s == "dpm++2s_a"; }

// Final latents of one run (F32 values).
std::vector<float> latents(const std::string& sampler, const std::string& prompt, const std::string& negative = "") {
  lorastack::GenerateRequest r;
  r.prompt = prompt;
  r.negative_prompt = negative;
  r.steps = kSteps;
  r.cfg_scale = 7.5f;
  r.sampler = sampler;
  r.seed = 1234;
  r.width = r.height = 64;
  r.save_latents = tmp("latents.safetensors");
  engine().generate(r);
  auto f = ls::io::read_safetensors(r.save_latents);
  ls::Tensor t = f.get("latents").to(ls::DType::F32);
  auto v = t.f32();
  return {v.begin(), v.end()};
}

class PromptScheduleEngine : public ::testing::TestWithParam<std::string> {};

TEST_P(PromptScheduleEngine, SwitchesConditioningAtA1111Steps) {
  const std::string s = GetParam();
  const auto cat = latents(s, "a cat"), dog = latents(s, "a dog");
  ASSERT_NE(cat, dog);
  const auto sched = latents(s, "a [cat:dog:0.5]");
  EXPECT_NE(sched, cat);
  EXPECT_NE(sched, dog);
  EXPECT_EQ(latents(s, "a [cat:dog:100]"), cat);  // past the last step: "a cat" throughout
  // Denoiser calls of this run: the second-order samplers make 2·steps − 1 (their last step, to σ = 0, is an
  // Euler step), the others one per step. Switching after the last call's index changes nothing.
  const int calls = second_order(s) ? 2 * kSteps - 1 : kSteps;
  EXPECT_EQ(latents(s, "a [cat:dog:" + std::to_string(calls - 1) + "]"), cat);
  EXPECT_NE(latents(s, "a [cat:dog:" + std::to_string(calls - 2) + "]"), cat);
}

INSTANTIATE_TEST_SUITE_P(AllSamplers, PromptScheduleEngine, ::testing::ValuesIn(ls::sampling::sampler_names()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (auto& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(PromptScheduleEngineMisc, NegativePromptAndAlternationAndLoraTags) {
  const auto plain = latents("euler", "a cat", "blurry");
  EXPECT_NE(latents("euler", "a cat", "[blurry:sharp:0.5]"), plain);
  EXPECT_EQ(latents("euler", "a cat", "[blurry:sharp:100]"), plain);
  const auto alt = latents("euler", "a [cat|dog]");
  EXPECT_NE(alt, latents("euler", "a cat"));
  EXPECT_NE(alt, latents("euler", "a dog"));
  // LoRA tags are removed before scheduling (the tag names no file: the engine itself ignores tags)
  EXPECT_EQ(latents("euler", "a <lora:nothing:0.5>[cat:dog:0.5]"), latents("euler", "a [cat:dog:0.5]"));
}

TEST(PromptScheduleEngineMisc, EmphasisErrorsBeforeSampling) {
  lorastack::GenerateRequest r;
  r.prompt = "a [cat:(dog:1.2.3):0.5]";  // the 'to' text has a weight A1111 cannot parse
  r.steps = 2;
  r.width = r.height = 64;
  EXPECT_THROW(engine().generate(r), std::runtime_error);
}

}  // namespace
