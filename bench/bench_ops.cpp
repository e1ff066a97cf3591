// Throughput of the ops that dominate an SD1.5 UNet step at 512×512 (latents 64×64), reported as
// GFLOP/s (multiply-add = 2 FLOP) or GB/s for the memory-bound ones. Run: bench_ops --benchmark_min_time=0.2s
#include <benchmark/benchmark.h>

#include <random>

#include "runtime/ops.h"

using namespace ls;

namespace {

Tensor randn(const Shape& s, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = d(g);
  return t;
}

void set_gflops(benchmark::State& st, double flop) {
  st.counters["GFLOP/s"] = benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// conv2d 3×3, C → C channels, stride 1, padding 1 on [1, C, S, S]. Args: C, S.
void BM_Conv3x3(benchmark::State& st) {
  const int64_t c = st.range(0), s = st.range(1);
  Tensor x = randn({1, c, s, s}, 1), w = randn({c, c, 3, 3}, 2), b = randn({c}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::conv2d(x, w, b, 1, 1));
  set_gflops(st, 2.0 * c * c * 9 * s * s);
}

/// conv2d 1×1 C → C on [1, C, S, S]. Args: C, S.
void BM_Conv1x1(benchmark::State& st) {
  const int64_t c = st.range(0), s = st.range(1);
  Tensor x = randn({1, c, s, s}, 1), w = randn({c, c, 1, 1}, 2), b = randn({c}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::conv2d(x, w, b));
  set_gflops(st, 2.0 * c * c * s * s);
}

/// attention q [1, Lq, H·D], k/v [1, Lk, H·D]. Args: Lq, Lk, H, D.
void BM_Attention(benchmark::State& st) {
  const int64_t lq = st.range(0), lk = st.range(1), h = st.range(2), d = st.range(3);
  Tensor q = randn({1, lq, h * d}, 1), k = randn({1, lk, h * d}, 2), v = randn({1, lk, h * d}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::attention(q, k, v, static_cast<int>(h)));
  set_gflops(st, 4.0 * h * lq * lk * d);
}

/// linear x [M, in] · W[out, in]ᵀ + b. Args: M, in, out.
void BM_Linear(benchmark::State& st) {
  const int64_t m = st.range(0), in = st.range(1), out = st.range(2);
  Tensor x = randn({m, in}, 1), w = randn({out, in}, 2), b = randn({out}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::linear(x, w, b));
  set_gflops(st, 2.0 * m * in * out);
}

/// group_norm (32 groups, fused SiLU) on [1, C, S, S]. Args: C, S. Reports bytes read + written.
void BM_GroupNormSiLU(benchmark::State& st) {
  const int64_t c = st.range(0), s = st.range(1);
  Tensor x = randn({1, c, s, s}, 1), g = randn({c}, 2), b = randn({c}, 3);
  for (auto _ : st) benchmark::DoNotOptimize(ops::group_norm(x, 32, g, b, 1e-5f, true));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * x.numel() * 4 * 3);  // 2 reads + 1 write
}

/// GEGLU on [M, 2C]. Args: M, C.
void BM_GEGLU(benchmark::State& st) {
  const int64_t m = st.range(0), c = st.range(1);
  Tensor x = randn({m, 2 * c}, 1);
  for (auto _ : st) benchmark::DoNotOptimize(ops::geglu(x));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * m * c * 4 * 3);
}

}  // namespace

BENCHMARK(BM_Conv3x3)->Args({320, 64})->Args({640, 32})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_Conv1x1)->Args({320, 64})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_Attention)->Args({4096, 4096, 8, 40})->Args({4096, 77, 8, 40})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_Linear)->Args({4096, 320, 2560})->Args({4096, 320, 320})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_GroupNormSiLU)->Args({320, 64})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_GEGLU)->Args({4096, 1280})->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();

BENCHMARK_MAIN();
