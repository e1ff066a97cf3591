// LoRA stacks on a real-size SD1.5 UNet (random weights in the `model init --arch sd1` layout), CPU:
//  * fuse-mode stack switch: three rank-32 kohya LoRAs on every attention projection (to_q/k/v/out.0,
//    attn1 + attn2) and every resnet 3×3 conv and proj_in/proj_out, alternating between two strength sets
//    (each switch recomputes every targeted weight from the untouched base);
//  * one UNet evaluation (512×512, latent 64×64, batch 1) without adapters, with the three fused, and with
//    the three as runtime side paths.
// Each is printed with `ratio_to_plain_step` = its time / the adapter-free step measured in the same
// process. Run: build/bench/bench_lora_stack
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>

#include "adapters/adapter.h"
#include "adapters/stack.h"
#include "io/safetensors.h"
#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "sampling/rng.h"

namespace {

using ls::Tensor;

bool targeted(const std::string& name, const ls::Shape& s) {
  auto ends = [&](const char* suf) { return name.size() > strlen(suf) && name.compare(name.size() - strlen(suf), strlen(suf), suf) == 0; };
  if (ends("to_q.weight") || ends("to_k.weight") || ends("to_v.weight") || ends("to_out.0.weight")) return true;
  if (ends("proj_in.weight") || ends("proj_out.weight")) return true;
  return s.size() == 4 && s[2] == 3 && (ends("conv1.weight") || ends("conv2.weight"));
}

std::string write_lora(const ls::sd::UNetConfig& cfg, int rank, uint64_t seed, const std::string& path) {
  ls::sampling::NoiseGenerator rng(seed);
  std::map<std::string, Tensor> t;
  for (const auto& [name, shape] : ls::sd::unet_param_shapes(cfg)) {
    if (!targeted(name, shape)) continue;
    std::string mod = "lora_unet_" + name.substr(0, name.size() - 7);  // strip ".weight"
    for (auto& c : mod) if (c == '.') c = '_';
    int64_t in = 1;
    for (size_t i = 1; i < shape.size(); ++i) in *= shape[i];
    ls::Shape down = shape.size() == 4 ? ls::Shape{rank, shape[1], shape[2], shape[3]} : ls::Shape{rank, shape[1]};
    ls::Shape up = shape.size() == 4 ? ls::Shape{shape[0], rank, 1, 1} : ls::Shape{shape[0], rank};
    t[mod + ".lora_down.weight"] = ls::ops::scale(rng.randn(down), 1.0f / std::sqrt(static_cast<float>(in)));
    t[mod + ".lora_up.weight"] = ls::ops::scale(rng.randn(up), 0.01f);
    t[mod + ".alpha"] = Tensor::full({}, static_cast<float>(rank));
  }
  ls::io::write_safetensors(path, t, {{"ss_network_dim", std::to_string(rank)}});
  return path;
}

struct World {
  ls::sd::LoadedModel model;
  std::unique_ptr<ls::sd::Components> comp;
  ls::adapters::ModelParams params;
  std::unique_ptr<ls::adapters::KeyMap> keymap;
  std::unique_ptr<ls::adapters::AdapterStack> stack;
  std::vector<std::shared_ptr<const ls::adapters::Adapter>> loras;
  Tensor x, t, ctx;
  double plain_step_s = 0;

  World() {
    auto cfg = ls::sd::preset_configs(ls::sd::InitArch::SD1);
    cfg.vae.block_out_channels = {32, 32, 32, 32};  // the VAE is not benchmarked here: keep it small
    model = ls::sd::random_model(cfg, 1);
    comp = ls::sd::build_components(model);
    params = {&comp->unet_params, &comp->text_params, nullptr, &model.unet_config};
    keymap = std::make_unique<ls::adapters::KeyMap>(params);
    stack = std::make_unique<ls::adapters::AdapterStack>(params);
    auto dir = std::filesystem::temp_directory_path() / "lorastack-bench-lora";
    std::filesystem::create_directories(dir);
    for (int i = 0; i < 3; ++i)
      loras.push_back(ls::adapters::load_adapter(
          write_lora(cfg.unet, 32, 100 + i, (dir / ("lora" + std::to_string(i) + ".safetensors")).string()), *keymap));
    ls::sampling::NoiseGenerator rng(0);
    x = rng.randn({1, 4, 64, 64});
    ctx = rng.randn({1, 77, 768});
    t = Tensor::full({1}, 500.0f);
    auto t0 = std::chrono::steady_clock::now();
    comp->unet->forward(x, t, ctx);
    plain_step_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::vector<ls::adapters::StackEntry> entries(float s) const {
    return {{loras[0], 0.8f * s, 0.8f * s}, {loras[1], 0.5f * s, 0.5f * s}, {loras[2], 1.2f * s, 1.2f * s}};
  }
};

World& world() {
  static World w;
  return w;
}

void report(benchmark::State& state, double seconds_per_iter) {
  state.counters["ratio_to_plain_step"] = seconds_per_iter / world().plain_step_s;
  state.counters["plain_step_s"] = world().plain_step_s;
}

void BM_FuseStackSwitch(benchmark::State& state) {
  auto& w = world();
  float s = 1.0f;
  int64_t n = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    w.stack->apply(w.entries(s), ls::adapters::ApplyMode::Fuse);
    s = s == 1.0f ? 0.5f : 1.0f;
    ++n;
  }
  report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n));
  state.counters["weights_recomputed"] = w.stack->last_stats().recomputed;
  w.stack->clear();
}
BENCHMARK(BM_FuseStackSwitch)->Unit(benchmark::kSecond)->Iterations(2)->UseRealTime();

void step_with(benchmark::State& state, bool adapters, ls::adapters::ApplyMode mode) {
  auto& w = world();
  if (adapters) w.stack->apply(w.entries(1.0f), mode);
  int64_t n = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.comp->unet->forward(w.x, w.t, w.ctx));
    ++n;
  }
  report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n));
  w.stack->clear();
}
void BM_UNetStep_Plain(benchmark::State& s) { step_with(s, false, ls::adapters::ApplyMode::Fuse); }
void BM_UNetStep_Fused3(benchmark::State& s) { step_with(s, true, ls::adapters::ApplyMode::Fuse); }
void BM_UNetStep_Runtime3(benchmark::State& s) { step_with(s, true, ls::adapters::ApplyMode::Runtime); }
BENCHMARK(BM_UNetStep_Plain)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_UNetStep_Fused3)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_UNetStep_Runtime3)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
