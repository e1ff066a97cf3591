// Adjoints of group and layer normalisation (norm.cpp). With x̂ = (x − μ)·rstd over a group of m values and
// g = ∂L/∂x̂ = gy·γ: ∂L/∂x = rstd·(g − mean(g) − x̂·mean(g·x̂)); ∂L/∂γ = Σ gy·x̂, ∂L/∂β = Σ gy
// (Ioffe & Szegedy 2015, eq. in §3; the same algebra for groups, Wu & He 2018). Statistics recomputed in double.
#include <cmath>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "runtime/cpu/backward.h"

namespace ls::cpu {
namespace {

void moments(const float* x, int64_t n, float eps, double& mean, double& rstd) {
  double sum = 0.0, sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  mean = sum / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  rstd = 1.0 / std::sqrt(sq / static_cast<double>(n) + static_cast<double>(eps));
}

}  // namespace

void group_norm_backward(const float* gy, const float* x, const float* gamma, const float* beta, float* gx,
                         float* ggamma, float* gbeta, int64_t n, int64_t c, int64_t hw, int groups, float eps,
                         bool silu) {
  const int64_t cg = c / groups, len = cg * hw;
  // per-sample partial sums of the parameter gradients, reduced over samples afterwards
  std::vector<double> pg(static_cast<size_t>(n * c), 0.0), pb(static_cast<size_t>(n * c), 0.0);
  const int nt = threads();
#pragma omp parallel num_threads(nt) if (n * c * hw > 32768)
  {
    std::vector<float> gpre(static_cast<size_t>(len));
#pragma omp for schedule(static)
    for (int64_t ng = 0; ng < n * groups; ++ng) {
      const int64_t ni = ng / groups, c0 = (ng % groups) * cg;
      const float* xs = x + ng * len;
      const float* gs = gy + ng * len;
      double mean, rstd;
      moments(xs, len, eps, mean, rstd);
      double sum_g = 0.0, sum_gx = 0.0;
      for (int64_t ci = 0; ci < cg; ++ci) {
        const int64_t ch = c0 + ci;
        double dgam = 0.0, dbet = 0.0;
        for (int64_t i = 0; i < hw; ++i) {
          const int64_t e = ci * hw + i;
          const double xh = (xs[e] - mean) * rstd;
          double gyv = gs[e];
          if (silu) {  // the forward applied SiLU to y = x̂·γ + β
            const double yv = xh * gamma[ch] + beta[ch], sg = 1.0 / (1.0 + std::exp(-yv));
            gyv *= sg * (1.0 + yv * (1.0 - sg));
          }
          dgam += gyv * xh;
          dbet += gyv;
          const double g = gyv * gamma[ch];
          gpre[static_cast<size_t>(e)] = static_cast<float>(g);
          sum_g += g;
          sum_gx += g * xh;
        }
        pg[static_cast<size_t>(ni * c + ch)] = dgam;
        pb[static_cast<size_t>(ni * c + ch)] = dbet;
      }
      const double mg = sum_g / static_cast<double>(len), mgx = sum_gx / static_cast<double>(len);
      float* out = gx + ng * len;
      for (int64_t e = 0; e < len; ++e) {
        const double xh = (xs[e] - mean) * rstd;
        out[e] = static_cast<float>(rstd * (gpre[static_cast<size_t>(e)] - mg - xh * mgx));
      }
    }
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    double a = 0.0, b = 0.0;
    for (int64_t ni = 0; ni < n; ++ni) {
      a += pg[static_cast<size_t>(ni * c + ch)];
      b += pb[static_cast<size_t>(ni * c + ch)];
    }
    ggamma[ch] = static_cast<float>(a);
    gbeta[ch] = static_cast<float>(b);
  }
}

void layer_norm_backward(const float* gy, const float* x, const float* gamma, float* gx, float* ggamma, float* gbeta,
                         int64_t rows, int64_t c, float eps) {
  const int nt = threads();
  std::vector<double> pg(static_cast<size_t>(nt * c), 0.0), pb(static_cast<size_t>(nt * c), 0.0);
#pragma omp parallel num_threads(nt) if (rows * c > 32768)
  {
#ifdef _OPENMP
    const int tid = omp_get_thread_num();
#else
    const int tid = 0;
#endif
    double* mg_acc = pg.data() + tid * c;
    double* mb_acc = pb.data() + tid * c;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xs = x + r * c;
      const float* gs = gy + r * c;
      double mean, rstd;
      moments(xs, c, eps, mean, rstd);
      double sum_g = 0.0, sum_gx = 0.0;
      for (int64_t i = 0; i < c; ++i) {
        const double xh = (xs[i] - mean) * rstd, g = static_cast<double>(gs[i]) * gamma[i];
        mg_acc[i] += gs[i] * xh;
        mb_acc[i] += gs[i];
        sum_g += g;
        sum_gx += g * xh;
      }
      const double mg = sum_g / static_cast<double>(c), mgx = sum_gx / static_cast<double>(c);
      for (int64_t i = 0; i < c; ++i) {
        const double xh = (xs[i] - mean) * rstd;
        gx[r * c + i] = static_cast<float>(rstd * (static_cast<double>(gs[i]) * gamma[i] - mg - xh * mgx));
      }
    }
  }
  for (int64_t i = 0; i < c; ++i) {
    double a = 0.0, b = 0.0;
    for (int t = 0; t < nt; ++t) {
      a += pg[static_cast<size_t>(t * c + i)];
      b += pb[static_cast<size_t>(t * c + i)];
    }
    ggamma[i] = static_cast<float>(a);
    gbeta[i] = static_cast<float>(b);
  }
}

}  // namespace ls::cpu
