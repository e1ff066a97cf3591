// SD1.5 at its real size (random weights from sd::init_weights, the `lorastack model init --arch sd1` layout)
// on the CUDA backend: one UNet step with CFG (batch 2: uncond + cond) at 512×512 (latent 64×64, context
// 77×768) and one VAE decode 64×64 → 512×512, in each precision given (default: fp32 fp16 bf16).
// Prints the median seconds per call over `reps` timed calls (after 2 warm-ups, each call synchronised),
// TFLOP/s from the op layer's FLOP count (2·M·N·K per GEMM-like op) and the allocator's peak bytes.
// Run: bench_cuda_sd15 [reps=5] [fp32|fp16|bf16 ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "runtime/cuda/backend.h"
#include "runtime/ops.h"
#include "sampling/rng.h"

namespace {

/// Median seconds of `reps` synchronised calls of f (after 2 warm-ups) and FLOPs per call.
template <typename F> std::pair<double, double> time_it(int reps, F&& f) {
  for (int i = 0; i < 2; ++i) f();
  ls::cuda::synchronize();
  std::vector<double> s;
  ls::ops::reset_flops();
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ls::cuda::synchronize();
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(s.begin(), s.end());
  return {s[s.size() / 2], static_cast<double>(ls::ops::flops()) / reps};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    std::vector<std::string> precisions;
    for (int i = 2; i < argc; ++i) precisions.push_back(argv[i]);
    if (precisions.empty()) precisions = {"fp32", "fp16", "bf16"};
    std::printf("device: %s\n", ls::cuda::device_name().c_str());

    const auto t0 = std::chrono::steady_clock::now();
    auto cfg = ls::sd::preset_configs(ls::sd::InitArch::SD1);
    auto w = ls::sd::init_weights(cfg, 1);
    ls::sd::LoadedModel model;
    model.unet_config = cfg.unet;
    model.vae_config = cfg.vae;
    model.text_config = cfg.text;
    model.unet.tensors = std::move(w.unet);
    model.vae.tensors = std::move(w.vae);
    model.text_encoder.tensors = std::move(w.text);
    auto comp = ls::sd::build_components(model);
    std::printf("random SD1.5 built in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

    ls::sampling::NoiseGenerator rng(0);
    const ls::Tensor x = rng.randn({2, 4, 64, 64});
    const ls::Tensor ctx_host = rng.randn({2, 77, 768});
    const ls::Tensor t = ls::Tensor::full({2}, 500.0f);
    const ls::Tensor z = rng.randn({1, 4, 64, 64});

    std::printf("%-6s %-22s %10s %10s %12s\n", "prec", "what", "s/call", "TFLOP/s", "peak GiB");
    for (const std::string& p : precisions) {
      const ls::DType dt = p == "fp16" ? ls::DType::F16 : p == "bf16" ? ls::DType::BF16 : ls::DType::F32;
      const auto u0 = std::chrono::steady_clock::now();
      // from the CPU F32 values each time (set_value path), so every precision sees the same weights
      for (ls::ParamTable* tb : {&comp->unet_params, &comp->vae_params})
        for (auto& [name, prm] : tb->all()) {
          prm.device = ls::Device::CUDA;
          prm.compute = dt;
          prm.set_value(prm.base);
        }
      ls::cuda::synchronize();
      const double upload = std::chrono::duration<double>(std::chrono::steady_clock::now() - u0).count();
      const ls::Tensor ctx = ctx_host.to_device(ls::Device::CUDA).to(dt);
      ls::cuda::reset_peak();
      auto [su, fu] = time_it(reps, [&] { (void)comp->unet->forward(x, t, ctx).to_device(ls::Device::CPU); });
      const double peak_u = ls::cuda::peak_bytes() / double(1ull << 30);
      ls::cuda::reset_peak();
      auto [sv, fv] = time_it(std::max(1, reps / 2), [&] { (void)comp->vae->decode(z).to_device(ls::Device::CPU); });
      const double peak_v = ls::cuda::peak_bytes() / double(1ull << 30);
      std::printf("%-6s %-22s %10.4f %10.1f %12.2f\n", p.c_str(), "unet step CFG b2 512", su, fu / su / 1e12, peak_u);
      std::printf("%-6s %-22s %10.4f %10.1f %12.2f\n", p.c_str(), "vae decode b1 512", sv, fv / sv / 1e12, peak_v);
      std::printf("%-6s %-22s %10.2f   (20 steps + decode, text encoder excluded; weights upload %.2f s)\n",
                  p.c_str(), "est. image s", 20 * su + sv, upload);
      std::fflush(stdout);
      ls::cuda::empty_cache();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_sd15: %s\n", e.what());
    return 1;
  }
  return 0;
}
