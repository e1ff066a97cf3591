// Engine-level checks of issue 6 on the refsuite tiny SD1 model: A1111 conditioning (emphasis, chunks, mean
// restore) against A1111-made references, img2img / inpainting invariants, and the CLI flags.
// tests/text/data/a1111_prompt_conds.safetensors: `pK.clip_skip_1` = A1111's conditioning of prompt K of
// a1111_prompts.json (its tokenize_line chunks through transformers' CLIPTextModel of the refsuite tiny text
// encoder, z·multipliers with the mean restored, chunks concatenated), fp32 CPU. Tolerance: max |Δ| ≤ 1e-4
// (two fp32 text encoders; the refsuite measured ≈ 1e-5 for the encoder alone).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "image/image.h"
#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "models/sd1/components.h"
#include "models/sd1/loader.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_parser.h"
#include "text/prompt_weights.h"

namespace {

const std::string kRef = std::string(LS_SHARED_DIR) + "/refsuite/";
const std::string kModel = kRef + "model/tiny-sd1.safetensors";
const std::string kTok = kRef + "model/tiny-sd1/tokenizer";

std::string tmp(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / "lorastack-test-sampling-pipeline";
  std::filesystem::create_directories(d);
  return (d / name).string();
}

TEST(A1111Conditioning, MatchesReferenceConds) {
  std::ifstream f(std::string(LS_SOURCE_DIR) + "/tests/text/data/a1111_prompts.json");
  const auto j = nlohmann::json::parse(f);
  auto conds = ls::io::read_safetensors(std::string(LS_SOURCE_DIR) + "/tests/text/data/a1111_prompt_conds.safetensors");
  auto model = ls::sd::load_model(kModel, "");
  auto comp = ls::sd::build_components(model);
  ls::text::ClipTokenizer tok(kTok);
  int checked = 0;
  for (int id : j["cond_prompts"].get<std::vector<int>>()) {
    const std::string prompt = j["cases"][id]["prompt"].get<std::string>();
    auto chunks = ls::text::chunk_prompt(ls::text::parse_prompt_attention(prompt),
                                         [&](const std::string& t) { return tok.encode(t); }, 49406, 49407,
                                         j["comma_token"].get<int>());
    std::vector<ls::Tensor> zs;
    for (const auto& ch : chunks) {
      ls::Tensor ids = ls::Tensor::empty({1, 77}, ls::DType::I64);
      for (int i = 0; i < 77; ++i) ids.data<int64_t>()[i] = ch.tokens[i];
      zs.push_back(ls::text::apply_emphasis(comp->text_encoder->encode(ids, 1).to(ls::DType::F32), ch.multipliers));
    }
    const ls::Tensor want = conds.get("p" + std::to_string(id) + ".clip_skip_1").to(ls::DType::F32);
    ASSERT_EQ(want.dim(1), static_cast<int64_t>(77 * zs.size())) << id;
    double worst = 0;
    for (size_t c = 0; c < zs.size(); ++c)
      for (int64_t k = 0; k < zs[c].numel(); ++k)
        worst = std::max(worst, std::fabs(double(zs[c].f32()[k]) - want.f32()[c * zs[c].numel() + k]));
    EXPECT_LE(worst, 1e-4) << "prompt " << id << ": " << prompt.substr(0, 60);
    ++checked;
  }
  EXPECT_EQ(checked, 10);
}

lorastack::GenerateRequest base_request() {
  lorastack::GenerateRequest r;
  r.prompt = "a (red:1.3) cube on a [table], BREAK studio light";
  r.negative_prompt = "blurry";
  r.steps = 6;
  r.width = r.height = 128;
  r.seed = 11;
  return r;
}

ls::image::Image test_image() {
  ls::image::Image im{128, 128, std::vector<uint8_t>(128 * 128 * 3)};
  for (int y = 0; y < 128; ++y)
    for (int x = 0; x < 128; ++x)
      for (int c = 0; c < 3; ++c) im.rgb[(y * 128 + x) * 3 + c] = static_cast<uint8_t>((x * 2 + y * (c + 1)) & 255);
  return im;
}

ls::Tensor init_latents() {  // what the engine encodes: posterior mean × scaling factor
  auto model = ls::sd::load_model(kModel, "");
  auto comp = ls::sd::build_components(model);
  ls::Tensor m = comp->vae->encode_moments(ls::image::to_tensor(test_image())).to(ls::DType::F32);
  ls::Tensor out = ls::Tensor::empty({1, 4, 16, 16});
  for (int64_t i = 0; i < out.numel(); ++i) out.f32()[i] = m.f32()[i] * model.vae_config.scaling_factor;
  return out;
}

TEST(Img2Img, StrengthZeroReturnsInitLatents) {
  const std::string img = tmp("init.png");
  ls::image::write_png(img, test_image());
  lorastack::Engine engine({.model = kModel, .tokenizer_dir = kTok});
  auto r = base_request();
  r.init_image = img;
  r.strength = 0.0f;
  r.save_latents = tmp("s0.safetensors");
  auto res = engine.generate(r);
  ASSERT_EQ(res.images.size(), 1u);
  const ls::Tensor got = ls::io::read_safetensors(r.save_latents).get("latents").to(ls::DType::F32);
  const ls::Tensor want = init_latents();
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(got.f32()[i], want.f32()[i]) << i;
  EXPECT_NE(res.parameters.find("Denoising strength: 0"), std::string::npos) << res.parameters;
}

TEST(Img2Img, MaskKeepsUnmaskedLatentsExactly) {
  const std::string img = tmp("init2.png"), mask = tmp("mask.png");
  ls::image::write_png(img, test_image());
  ls::image::Image mk{128, 128, std::vector<uint8_t>(128 * 128 * 3, 0)};
  for (int y = 0; y < 128; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) mk.rgb[(y * 128 + x) * 3 + c] = 255;  // left half: repaint
  ls::image::write_png(mask, mk);
  lorastack::Engine engine({.model = kModel, .tokenizer_dir = kTok});
  const ls::Tensor want = init_latents();
  for (const char* sampler : {"euler_a", "dpm++2m", "uni_pc"}) {
    auto r = base_request();
    r.sampler = sampler;
    r.init_image = img;
    r.mask = mask;
    r.strength = 0.8f;
    r.rng = "cuda";
    r.save_latents = tmp(std::string("mask-") + sampler + ".safetensors");
    engine.generate(r);
    const ls::Tensor got = ls::io::read_safetensors(r.save_latents).get("latents").to(ls::DType::F32);
    int changed = 0;
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t y = 0; y < 16; ++y)
        for (int64_t x = 0; x < 16; ++x) {
          const int64_t i = (c * 16 + y) * 16 + x;
          if (x >= 8) ASSERT_EQ(got.f32()[i], want.f32()[i]) << sampler << " kept latent " << i;
          else changed += got.f32()[i] != want.f32()[i];
        }
    EXPECT_GT(changed, 400) << sampler;
  }
}

TEST(Img2Img, BadInputsFail) {
  lorastack::Engine engine({.model = kModel, .tokenizer_dir = kTok});
  auto r = base_request();
  r.mask = tmp("nope.png");
  EXPECT_THROW(engine.generate(r), std::exception);  // mask without init image
  r = base_request();
  r.rng = "gpu";
  EXPECT_THROW(engine.generate(r), std::exception);
  r = base_request();
  r.prompt = "(a:1.2.3)";
  EXPECT_THROW(engine.generate(r), std::exception);
  r = base_request();
  r.prompt = std::string(10000, 'x') + " (long:1.2) " + std::string(200, '(');
  r.steps = 2;
  EXPECT_NO_THROW(engine.generate(r));
}

TEST(Cli, SamplingFlags) {
  const std::string img = tmp("cli-init.png"), mask = tmp("cli-mask.png"), out = tmp("cli-out.png");
  ls::image::write_png(img, test_image());
  ls::image::Image mk{128, 128, std::vector<uint8_t>(128 * 128 * 3, 255)};
  ls::image::write_png(mask, mk);
  std::filesystem::remove(out);
  const std::string cmd = std::string(LS_CLI_PATH) + " generate -m " + kModel + " --tokenizer " + kTok +
                          " -p 'a ((cat)) BREAK on a mat' -n 'dog' --steps 4 -W 128 -H 128 --sampler heun"
                          " --scheduler karras --rng cuda --clip-skip 2 --init-img " + img + " --strength 0.5 --mask " +
                          mask + " -o " + out + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_TRUE(std::filesystem::exists(out));
  const std::string bad = std::string(LS_CLI_PATH) + " generate -m " + kModel + " --tokenizer " + kTok +
                          " -p x --steps 2 -W 128 -H 128 --sampler nope > /dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

}  // namespace
