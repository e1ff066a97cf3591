// End-to-end txt2img on the CUDA backend through the public Engine (include/lorastack/lorastack.h): one model
// (a `lorastack model init` folder or file), 512×512, 20 Euler steps, CFG 7.5, for each batch size given.
// Per batch: one untimed warm-up generation, then `reps` timed Engine::generate calls (text encoding of the
// prompt and the empty negative prompt, 20 UNet steps with the CPU sampler, VAE decode, conversion to 8-bit
// RGB; no PNG writing, no model load). Prints the median seconds, images per second and the allocator's peak
// GPU bytes during the timed calls. Then one UNet step with CFG (batch 2, latent 64×64, context 77×768) on the
// same weights loaded again through sd::load_model (median of `reps`·2 synchronised calls after 2 warm-ups).
// Machine-readable lines start with "RESULT " (read by bench/diffusers_compare.py).
// Run: bench_cuda_pipeline MODEL [precision=fp16] [reps=3] [batch ...=1 4]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lorastack/lorastack.h"
#include "models/sd1/components.h"
#include "models/sd1/loader.h"
#include "runtime/cuda/backend.h"
#include "runtime/error.h"
#include "runtime/ops.h"
#include "sampling/rng.h"

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::fprintf(stderr, "usage: bench_cuda_pipeline MODEL [fp16|bf16|fp32] [reps=3] [batch ...]\n");
      return 2;
    }
    const std::string model_path = argv[1];
    const std::string precision = argc > 2 ? argv[2] : "fp16";
    const int reps = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
    std::vector<int> batches;
    for (int i = 4; i < argc; ++i) batches.push_back(std::max(1, std::atoi(argv[i])));
    if (batches.empty()) batches = {1, 4};
    std::printf("device: %s\n", ls::cuda::device_name().c_str());

    double t0 = now_s();
    lorastack::ModelOptions opts;
    opts.model = model_path;
    opts.device = "cuda";
    opts.precision = precision;
    lorastack::Engine engine(opts);
    std::printf("engine load %.2f s: %s\n", now_s() - t0, engine.describe().c_str());
    std::fflush(stdout);

    for (int b : batches) {
      lorastack::GenerateRequest req;
      req.prompt = "a photo of a cat";
      req.steps = 20;
      req.cfg_scale = 7.5f;
      req.sampler = "euler";
      req.width = req.height = 512;
      req.batch_size = b;
      req.seed = 1;
      t0 = now_s();
      (void)engine.generate(req);
      const double warm = now_s() - t0;
      ls::cuda::synchronize();
      ls::cuda::reset_peak();
      std::vector<double> s;
      for (int r = 0; r < reps; ++r) {
        req.seed = 2 + r;
        t0 = now_s();
        auto res = engine.generate(req);
        ls::cuda::synchronize();
        s.push_back(now_s() - t0);
        if (res.images.size() != static_cast<size_t>(b)) ls::fail("batch {}: got {} images", b, res.images.size());
      }
      const double med = median(s);
      const double peak = ls::cuda::peak_bytes() / double(1ull << 30);
      std::printf("RESULT lorastack %s generate batch=%d s=%.4f img_per_s=%.3f peak_gib=%.2f warmup_s=%.3f min_s=%.4f\n",
                  precision.c_str(), b, med, b / med, peak, warm, *std::min_element(s.begin(), s.end()));
      std::fflush(stdout);
    }

    // One UNet step, CFG batch 2, on the same weights (second copy built from the same file).
    t0 = now_s();
    auto model = ls::sd::load_model(model_path);
    auto comp = ls::sd::build_components(model);
    const ls::DType dt = precision == "fp16" ? ls::DType::F16 : precision == "bf16" ? ls::DType::BF16 : ls::DType::F32;
    for (ls::ParamTable* tb : {&comp->unet_params}) tb->to_device(ls::Device::CUDA, dt);
    ls::sampling::NoiseGenerator rng(0);
    const ls::Tensor x = rng.randn({2, 4, 64, 64});
    const ls::Tensor ctx = rng.randn({2, 77, 768}).to_device(ls::Device::CUDA).to(dt);
    const ls::Tensor t = ls::Tensor::full({2}, 500.0f);
    std::printf("unet load %.2f s\n", now_s() - t0);
    for (int i = 0; i < 2; ++i) (void)comp->unet->forward(x, t, ctx).to_device(ls::Device::CPU);
    ls::cuda::synchronize();
    std::vector<double> s;
    for (int r = 0; r < reps * 2; ++r) {
      t0 = now_s();
      (void)comp->unet->forward(x, t, ctx).to_device(ls::Device::CPU);
      ls::cuda::synchronize();
      s.push_back(now_s() - t0);
    }
    std::printf("RESULT lorastack %s unet_step batch=2 ms=%.3f\n", precision.c_str(), median(s) * 1e3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_pipeline: %s\n", e.what());
    return 1;
  }
  return 0;
}
