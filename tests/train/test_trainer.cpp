// lorastack::train end to end on the tiny refsuite model (CPU, 64×64 images, 1 thread so runs are bit-repeatable):
// the saved adapter loads with every key used and carries kohya metadata; training lowers the denoising loss
// on the training image (measure: mean diffusion loss over 24 fixed (noise, timestep) draws, before vs after);
// an interrupted run resumed from its state equals the uninterrupted run bit for bit; bad inputs fail clearly.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "../common/error_of.h"
#include "adapters/adapter.h"
#include "adapters/stack.h"
#include "image/image.h"
#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "lorastack/train.h"
#include "runtime/autograd.h"
#include "runtime/ops.h"
#include "sampling/schedule.h"
#include "tiny.h"
#include "train/diffusion.h"

namespace fs = std::filesystem;

namespace ls {
namespace {

/// DIR/5_blob/{a,b}.png + captions: a red disc on white and a blue square on black, 64×64.
std::string make_data(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name / "5_blob";
  fs::create_directories(dir);
  for (int k = 0; k < 2; ++k) {
    image::Image img{64, 64, std::vector<uint8_t>(64 * 64 * 3)};
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x) {
        uint8_t* p = &img.rgb[(y * 64 + x) * 3];
        const bool in = k == 0 ? (x - 32) * (x - 32) + (y - 32) * (y - 32) < 400 : (x > 16 && x < 48 && y > 16 && y < 48);
        p[0] = k == 0 ? (in ? 220 : 255) : 0;
        p[1] = k == 0 ? (in ? 20 : 255) : 0;
        p[2] = k == 0 ? (in ? 20 : 255) : (in ? 230 : 0);
      }
    const std::string stem = (dir / (k == 0 ? "a" : "b")).string();
    image::write_png(stem + ".png", img);
    std::ofstream(stem + ".txt") << (k == 0 ? "lsblob, red disc" : "lsblob, blue square");
  }
  return (fs::path(::testing::TempDir()) / name).string();
}

lorastack::TrainOptions tiny_options(const std::string& data, const std::string& out) {
  lorastack::TrainOptions o;
  o.base = testing::tiny_model_dir();
  o.data_dir = data;
  o.output = out;
  o.resolution = 64;
  o.rank = 4;
  o.alpha = 4;
  o.learning_rate = 2e-3f;
  o.steps = 4;
  o.save_precision = "fp32";
  o.threads = 1;
  return o;
}

TEST(Trainer, SavedAdapterLoadsWithKohyaMetadata) {
  const std::string data = make_data("tr_meta");
  const std::string out = ::testing::TempDir() + "/tr_meta/out/blob.safetensors";
  auto r = lorastack::train(tiny_options(data, out));
  EXPECT_EQ(r.losses.size(), 4u);
  const auto f = io::read_safetensors(out);
  EXPECT_EQ(f.metadata.at("ss_network_module"), "networks.lora");
  EXPECT_EQ(f.metadata.at("ss_network_dim"), "4");
  EXPECT_EQ(f.metadata.at("ss_network_alpha"), "4.0");
  EXPECT_EQ(f.metadata.at("ss_base_model_version"), "sd_v1");
  EXPECT_EQ(f.metadata.at("ss_num_train_images"), "10");  // 2 images × 5 repeats
  EXPECT_NE(f.metadata.at("ss_tag_frequency").find("\"lsblob\": 2"), std::string::npos)
      << f.metadata.at("ss_tag_frequency");
  EXPECT_EQ(f.metadata.at("modelspec.architecture"), "stable-diffusion-v1/lora");
  lorastack::Engine engine({.model = testing::tiny_model_dir(), .threads = 1});
  auto reports = engine.set_loras({{out, 1.0f, 1.0f}}, lorastack::LoraMode::Auto, /*strict=*/true);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].unused_keys.empty());
  EXPECT_GT(reports[0].unet_modules, 0);
  EXPECT_GT(reports[0].te_modules, 0);
}

/// Mean diffusion loss of the tiny UNet on image a.png's latents over 24 fixed draws, with the adapter at `path`
/// fused at strength 1 (or none).
double eval_loss(const std::string& data, const std::string& path) {
  const sd::LoadedModel model = sd::load_model(testing::tiny_model_dir());
  auto c = sd::build_components(model);
  adapters::ModelParams mp{&c->unet_params, &c->text_params, nullptr, &model.unet_config};
  adapters::AdapterStack stack(mp);
  if (!path.empty()) {
    adapters::KeyMap km(mp);
    stack.apply({{adapters::load_adapter(path, km), 1.0f, 1.0f}}, adapters::ApplyMode::Fuse);
  }
  const Tensor px = image::to_tensor(image::read_png(data + "/5_blob/a.png"));
  const Tensor x0 = ops::scale(c->vae->encode(px).mean, model.vae_config.scaling_factor);
  const Tensor ids = testing::tiny_ids(1, model.text_config.vocab_size);
  const Tensor ctx = c->text_encoder->encode(ids, 1);
  const auto schedule = sampling::training_schedule(model.scheduler_config);
  double sum = 0;
  for (int k = 0; k < 24; ++k) {
    const auto nb = train::noise_batch(x0, schedule, {}, 4242, k);
    sum += train::diffusion_loss(c->unet->forward(nb.noisy, nb.timesteps, ctx), nb).f32()[0];
  }
  return sum / 24;
}

TEST(Trainer, LossFallsOnTheTrainingImage) {
  const std::string data = make_data("tr_loss");
  const std::string out = ::testing::TempDir() + "/tr_loss/blob.safetensors";
  auto o = tiny_options(data, out);
  o.steps = 40;
  o.unet_only = true;  // eval_loss conditions on fixed ids, so only the UNet's change is measured
  lorastack::train(o);
  const double before = eval_loss(data, ""), after = eval_loss(data, out);
  std::printf("fixed-draw diffusion loss on a.png: base %.4f, after 40 steps %.4f (%.1f%% lower)\n", before, after,
              100.0 * (1.0 - after / before));
  EXPECT_LT(after, 0.9 * before);
}

TEST(Trainer, ResumeEqualsTheUninterruptedRun) {
  const std::string data = make_data("tr_resume");
  const std::string dir = ::testing::TempDir() + "/tr_resume/";
  auto full = tiny_options(data, dir + "full.safetensors");
  full.steps = 4;
  lorastack::train(full);
  auto first = tiny_options(data, dir + "part.safetensors");
  first.steps = 2;
  first.save_every = 2;
  lorastack::train(first);
  auto rest = tiny_options(data, dir + "resumed.safetensors");
  rest.steps = 4;
  rest.resume = dir + "part.safetensors.state";
  lorastack::train(rest);
  const auto a = io::read_safetensors(dir + "full.safetensors");
  const auto b = io::read_safetensors(dir + "resumed.safetensors");
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [k, t] : a.tensors) {
    const Tensor& u = b.get(k);
    ASSERT_EQ(t.shape(), u.shape()) << k;
    EXPECT_EQ(std::memcmp(t.raw(), u.raw(), t.nbytes()), 0) << k << " differs after resume";
  }
}

TEST(Trainer, EveryOptimizerAndNetworkTakesSteps) {
  const std::string data = make_data("tr_kinds");
  for (const char* opt : {"adamw8bit", "prodigy"}) {
    auto o = tiny_options(data, ::testing::TempDir() + "/tr_kinds/" + opt + ".safetensors");
    o.optimizer = opt;
    o.learning_rate = std::string(opt) == "prodigy" ? 1.0f : 2e-3f;
    o.steps = 3;
    auto r = lorastack::train(o);
    for (float l : r.losses) EXPECT_TRUE(std::isfinite(l)) << opt;
  }
  for (const char* net : {"locon", "loha", "lokr", "dora", "full"}) {
    auto o = tiny_options(data, ::testing::TempDir() + "/tr_kinds/" + net + ".safetensors");
    o.network = net;
    o.steps = 2;
    o.gradient_checkpointing = true;
    if (std::string(net) == "full") {
      o.sample_every = 2;  // the fine-tuned model itself renders the sample
      o.sample_prompt = "lsblob, red disc";
      o.sample_steps = 4;
    }
    auto r = lorastack::train(o);
    for (float l : r.losses) EXPECT_TRUE(std::isfinite(l)) << net;
    EXPECT_TRUE(fs::exists(o.output)) << net;
  }
  // a full fine-tune is a model any loader opens (LDM single file), and its sample image was written
  const std::string full = ::testing::TempDir() + "/tr_kinds/full.safetensors";
  lorastack::Engine engine({.model = full, .tokenizer_dir = testing::tiny_model_dir() + "/tokenizer", .threads = 1});
  EXPECT_NE(engine.describe().find("SD1"), std::string::npos);
  EXPECT_TRUE(fs::exists(::testing::TempDir() + "/tr_kinds/full-sample000002.png"));
}

TEST(Trainer, BadInputsFailClearly) {
  const std::string data = make_data("tr_bad");
  const std::string out = ::testing::TempDir() + "/tr_bad/x.safetensors";
  // an adapter passed as the base model
  auto o = tiny_options(data, out);
  lorastack::train(o);
  auto bad_base = tiny_options(data, ::testing::TempDir() + "/tr_bad/y.safetensors");
  bad_base.base = out;
  EXPECT_NE(testing::error_of([&] { lorastack::train(bad_base); }).find("not a base model"), std::string::npos);
  // a folder without images
  const std::string empty = ::testing::TempDir() + "/tr_bad/empty";
  fs::create_directories(empty);
  auto no_data = tiny_options(empty, out);
  EXPECT_NE(testing::error_of([&] { lorastack::train(no_data); }).find(empty), std::string::npos);
  auto bad_lr = tiny_options(data, out);
  bad_lr.learning_rate = -1;
  EXPECT_NE(testing::error_of([&] { lorastack::train(bad_lr); }).find("--lr"), std::string::npos);
  auto bad_net = tiny_options(data, out);
  bad_net.network = "oft";
  EXPECT_NE(testing::error_of([&] { lorastack::train(bad_net); }).find("'oft'"), std::string::npos);
}

}  // namespace
}  // namespace ls
