// Does a LoRA lorastack trained move generated images toward its training set? tests/train/data/lscat_lora200
// (200 steps on the 9 lscat emoji, see make_diffusers_lora_reference.py for the command) on the tiny model:
// for 3 prompts × 2 seeds, 64×64, 20 Euler steps, CFG 7.5. The tiny model's VAE has random weights (it does not
// reconstruct images), so the measure is taken where the model works, in latent space: the RMSE from each
// generated final latent [4, 8, 8] to its nearest training latent (VAE posterior mean × scaling factor of each
// training image, what the trainer fits). With the LoRA at strength 1 it must fall by at least 20 % (measured 28 %) against the
// base model, and strength 0.5 must land in between.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "image/image.h"
#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "runtime/ops.h"
#include "tiny.h"

namespace fs = std::filesystem;

namespace ls {
namespace {

const std::string kData = std::string(LS_SOURCE_DIR) + "/tests/train/data/";

double nearest_rmse(const Tensor& z, const std::vector<Tensor>& set) {
  double best = 1e30;
  for (const auto& t : set) {
    double s = 0;
    for (int64_t i = 0; i < t.numel(); ++i) s += std::pow(static_cast<double>(z.f32()[i]) - t.f32()[i], 2);
    best = std::min(best, std::sqrt(s / static_cast<double>(t.numel())));
  }
  return best;
}

TEST(TrainedEffect, LoRAMovesImagesTowardTheTrainingSet) {
  const sd::LoadedModel model = sd::load_model(testing::tiny_model_dir());
  auto comps = sd::build_components(model);
  std::vector<Tensor> set;
  for (const auto& e : fs::directory_iterator(kData + "lscat/10_lscat"))
    if (e.path().extension() == ".png")
      set.push_back(ops::scale(comps->vae->encode(image::to_tensor(image::read_png(e.path().string()))).mean,
                               model.vae_config.scaling_factor));
  ASSERT_EQ(set.size(), 9u);
  const std::string latents = ::testing::TempDir() + "/trained_effect_latents.safetensors";
  lorastack::Engine engine({.model = testing::tiny_model_dir(), .threads = 1});
  auto measure = [&](float strength) {
    if (strength > 0) engine.set_loras({{kData + "lscat_lora200.safetensors", strength, strength}});
    else engine.set_loras({});
    double sum = 0;
    int n = 0;
    for (const char* p : {"lscat cat, grinning", "lscat cat, tears of joy", "lscat cat, pouting"})
      for (uint64_t seed : {1, 2}) {
        lorastack::GenerateRequest r;
        r.prompt = p;
        r.width = r.height = 64;
        r.steps = 20;
        r.seed = seed;
        r.save_latents = latents;
        engine.generate(r);
        sum += nearest_rmse(io::read_safetensors(latents).get("latents").to(DType::F32), set);
        ++n;
      }
    return sum / n;
  };
  const double base = measure(0), half = measure(0.5f), full = measure(1.0f);
  std::printf("nearest-training-latent RMSE: base %.1f, strength 0.5 %.1f, strength 1 %.1f (%.0f%% lower)\n", base,
              half, full, 100.0 * (1.0 - full / base));
  EXPECT_LT(full, 0.8 * base);
  EXPECT_LT(half, base);
  EXPECT_GT(half, full);
}

}  // namespace
}  // namespace ls
