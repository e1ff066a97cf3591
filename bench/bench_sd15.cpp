// SD1.5 at its real size (random weights, `lorastack model init --arch sd1` layout) on the CPU:
// one UNet step with CFG (batch 2: uncond + cond) at 512×512 (latent 64×64, context 77×768) and one
// VAE decode 64×64 → 512×512. Prints seconds per call and GFLOP/s (FLOPs counted by the op layer:
// 2·M·N·K per GEMM-like op). Run: build/bench/bench_sd15 [--benchmark_min_time=1x]
#include <benchmark/benchmark.h>

#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "runtime/ops.h"
#include "sampling/rng.h"

namespace {

struct SD15 {
  ls::sd::LoadedModel model;
  std::unique_ptr<ls::sd::Components> comp;
  SD15() {
    model = ls::sd::random_model(ls::sd::preset_configs(ls::sd::InitArch::SD1), 1);
    comp = ls::sd::build_components(model);
  }
};

SD15& sd15() {
  static SD15 m;
  return m;
}

void BM_UNetStepCFG_512(benchmark::State& state) {
  auto& m = sd15();
  ls::sampling::NoiseGenerator rng(0);
  ls::Tensor x = rng.randn({2, 4, 64, 64});
  ls::Tensor ctx = rng.randn({2, 77, 768});
  ls::Tensor t = ls::Tensor::full({2}, 500.0f);
  m.comp->unet->forward(x, t, ctx);  // warm-up
  ls::ops::reset_flops();
  int64_t iters = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.comp->unet->forward(x, t, ctx));
    ++iters;
  }
  const double flops = static_cast<double>(ls::ops::flops()) / static_cast<double>(iters);
  state.counters["GFLOP_per_call"] = flops / 1e9;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * static_cast<double>(iters) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_UNetStepCFG_512)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

void BM_VAEDecode_512(benchmark::State& state) {
  auto& m = sd15();
  ls::sampling::NoiseGenerator rng(0);
  ls::Tensor z = rng.randn({1, 4, 64, 64});
  ls::ops::reset_flops();
  int64_t iters = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.comp->vae->decode(z));
    ++iters;
  }
  const double flops = static_cast<double>(ls::ops::flops()) / static_cast<double>(iters);
  state.counters["GFLOP_per_call"] = flops / 1e9;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * static_cast<double>(iters) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VAEDecode_512)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
