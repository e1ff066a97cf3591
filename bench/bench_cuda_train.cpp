// One LoRA training step of SD1.5 at its real size (random weights, sd::random_model) on the CUDA backend:
// UNet LoRA (kohya's module set: every Linear / 1×1 conv of the transformer blocks), rank 16, alpha 16, fp32
// master weights, frozen UNet in bf16, batch B at 512×512 (latents 64×64, context 77×768 given — the text
// encoder is not part of the step), eps loss, backward, AdamW. bench/peft_train_compare.py runs the same step
// with diffusers + PEFT in the same GPU call and prints the ratio.
// Prints "RESULT lorastack train_step batch=B checkpointing=0|1 seconds=… peak_gib=…" (median of reps after 2
// warm-ups, each step synchronised).
// Run: bench_cuda_train [reps=5] [batch=4] [precision=bf16]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "runtime/autograd.h"
#include "runtime/cuda/backend.h"
#include "runtime/ops.h"
#include "sampling/rng.h"
#include "sampling/schedule.h"
#include "train/diffusion.h"
#include "train/network.h"
#include "train/optimizer.h"

int main(int argc, char** argv) {
  try {
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    const int batch = argc > 2 ? std::max(1, std::atoi(argv[2])) : 4;
    const std::string prec = argc > 3 ? argv[3] : "bf16";
    const ls::DType dt = prec == "fp16" ? ls::DType::F16 : prec == "fp32" ? ls::DType::F32 : ls::DType::BF16;
    std::printf("device: %s, conv backend: %s\n", ls::cuda::device_name().c_str(), ls::cuda::conv_backend().c_str());
    const auto cfg = ls::sd::preset_configs(ls::sd::InitArch::SD1);
    ls::sd::LoadedModel model = ls::sd::random_model(cfg, 1);
    auto comp = ls::sd::build_components(model);
    comp->unet_params.to_device(ls::Device::CUDA, dt);
    ls::train::Network net(*comp, {.type = ls::train::NetworkType::LoRA, .rank = 16, .alpha = 16.0f,
                                   .train_text_encoder = false, .seed = 1});
    net.attach(ls::Device::CUDA);
    auto opt = ls::train::make_optimizer({}, net.parameters(), net.parameter_names());
    std::printf("LoRA: %zu modules, %zu parameters\n", net.modules().size(), net.num_parameters());

    ls::sampling::NoiseGenerator rng(0);
    const ls::Tensor x0 = rng.randn({batch, 4, 64, 64});
    const ls::Tensor ctx = rng.randn({batch, 77, 768}).to_device(ls::Device::CUDA).to(dt);
    const auto schedule = ls::sampling::training_schedule(model.scheduler_config);
    for (int ckpt : {0, 1}) {
      comp->unet->set_gradient_checkpointing(ckpt != 0);
      int64_t step = 0;
      auto one = [&] {
        const auto nb = ls::train::noise_batch(x0, schedule, {}, 7, step++);
        ls::autograd::Tape tape;
        const ls::Tensor noisy = nb.noisy.to_device(ls::Device::CUDA).to(dt);
        ls::Tensor loss = ls::train::diffusion_loss(comp->unet->forward(noisy, nb.timesteps, ctx), nb);
        ls::autograd::backward(loss);
        opt->step(1e-4f);
        ls::cuda::synchronize();
      };
      for (int i = 0; i < 2; ++i) one();
      ls::cuda::reset_peak();
      std::vector<double> s;
      for (int i = 0; i < reps; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        one();
        s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::sort(s.begin(), s.end());
      std::printf("RESULT lorastack train_step batch=%d checkpointing=%d precision=%s seconds=%.4f peak_gib=%.2f\n", batch,
                  ckpt, prec.c_str(), s[s.size() / 2], static_cast<double>(ls::cuda::peak_bytes()) / (1 << 30));
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_train: %s\n", e.what());
    return 1;
  }
}
