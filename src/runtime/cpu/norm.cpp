// Group normalisation (Wu & He 2018, torch.nn.functional.group_norm) and layer normalisation
// (Ba et al. 2016, torch.nn.functional.layer_norm). Two-pass statistics accumulated in double.
#include <cmath>
#include <vector>

#include "runtime/cpu/kernels.h"
#include "runtime/cpu/vmath.h"

namespace ls::cpu {
namespace {

/// Mean and 1/√(biased variance + eps) of n values, two-pass in double.
void moments(const float* x, int64_t n, float eps, double& mean, double& rstd) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  mean = sum / static_cast<double>(n);
  double sq = 0.0;
  const double m = mean;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < n; ++i) {
    double d = x[i] - m;
    sq += d * d;
  }
  rstd = 1.0 / std::sqrt(sq / static_cast<double>(n) + static_cast<double>(eps));
}

}  // namespace

void group_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t c, int64_t hw,
                int groups, float eps, bool silu) {
  const int64_t cg = c / groups;
  const int64_t group_len = cg * hw;
  const int nt = threads();
  // One (sample, group) per task for the statistics; the affine pass is split per channel for balance.
  std::vector<double> stats(static_cast<size_t>(n * groups * 2));
#pragma omp parallel for schedule(static) num_threads(nt) if (n * c * hw > 32768)
  for (int64_t ng = 0; ng < n * groups; ++ng) moments(x + ng * group_len, group_len, eps, stats[2 * ng], stats[2 * ng + 1]);
#pragma omp parallel for schedule(static) num_threads(nt) if (n * c * hw > 32768)
  for (int64_t nc = 0; nc < n * c; ++nc) {
    const int64_t ch = nc % c, ng = (nc / c) * groups + ch / cg;
    const float mean = static_cast<float>(stats[2 * ng]), rstd = static_cast<float>(stats[2 * ng + 1]);
    const float a = rstd * gamma[ch], b = beta[ch] - mean * rstd * gamma[ch];
    const float* xs = x + nc * hw;
    float* ys = y + nc * hw;
    for (int64_t i = 0; i < hw; ++i) ys[i] = xs[i] * a + b;
    if (silu) sigmoid_gate(ys, ys, hw, 1.0f);
  }
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t c, float eps) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (rows * c > 32768)
  for (int64_t r = 0; r < rows; ++r) {
    double mean, rstd;
    moments(x + r * c, c, eps, mean, rstd);
    const float m = static_cast<float>(mean), s = static_cast<float>(rstd);
    const float* xs = x + r * c;
    float* ys = y + r * c;
    for (int64_t i = 0; i < c; ++i) ys[i] = (xs[i] - m) * s * gamma[i] + beta[i];
  }
}

}  // namespace ls::cpu
