// σ schedules (see sigma_schedules.h). Float32 steps follow the torch reference op by op (this module is
// compiled with -ffp-contract=off).
#include "sampling/sigma_schedules.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/error.h"
#include "sampling/schedule.h"

namespace ls::sampling {
namespace {

std::vector<double> linspace_f64(double start, double end, int n) {
  std::vector<double> out(static_cast<size_t>(n));
  if (n == 1) {
    out[0] = start;
    return out;
  }
  const double step = (end - start) / (n - 1);
  const int halfway = n / 2;
  for (int i = 0; i < n; ++i) out[i] = i < halfway ? start + step * i : end - step * (n - i - 1);
  return out;
}

// the decimal a config float was written as (0.00085f → 0.00085), as Python reads the JSON / yaml
double as_written(float v) { return std::stod(fmt::format("{}", v)); }

std::vector<float> with_zero(std::vector<float> s) {
  s.push_back(0.0f);
  return s;
}

std::vector<float> normal(const ModelSampling& ms, int steps, bool sgm) {
  const float start = static_cast<float>(ms.timestep_nearest(ms.sigma_max()));
  const float end = static_cast<float>(ms.timestep_nearest(ms.sigma_min()));
  bool append_zero = true;
  std::vector<float> ts;
  if (sgm) {
    ts = torch_linspace_f32(start, end, steps + 1);
    ts.pop_back();
  } else {
    if (std::fabs(ms.sigma(end)) <= 1e-5f) {
      ++steps;
      append_zero = false;
    }
    ts = torch_linspace_f32(start, end, steps);
  }
  std::vector<float> s;
  for (float t : ts) s.push_back(ms.sigma(t));
  return append_zero ? with_zero(s) : s;
}

std::vector<float> karras(const ModelSampling& ms, int steps) {
  const double rho = 7.0;
  const double min_inv = std::pow(static_cast<double>(ms.sigma_min()), 1.0 / rho);
  const double max_inv = std::pow(static_cast<double>(ms.sigma_max()), 1.0 / rho);
  const std::vector<float> ramp = torch_linspace_f32(0.0f, 1.0f, steps);
  const float diff = static_cast<float>(min_inv - max_inv), base = static_cast<float>(max_inv);
  std::vector<float> s;
  for (float r : ramp) s.push_back(std::pow(base + r * diff, static_cast<float>(rho)));
  return with_zero(s);
}

std::vector<float> exponential(const ModelSampling& ms, int steps) {
  const auto lin = torch_linspace_f32(static_cast<float>(std::log(static_cast<double>(ms.sigma_max()))),
                                static_cast<float>(std::log(static_cast<double>(ms.sigma_min()))), steps);
  std::vector<float> s;
  for (float v : lin) s.push_back(std::exp(v));
  return with_zero(s);
}

std::vector<float> simple(const ModelSampling& ms, int steps) {
  const int n = static_cast<int>(ms.sigmas.size());
  const double ss = static_cast<double>(n) / steps;
  std::vector<float> s;
  for (int x = 0; x < steps; ++x) s.push_back(ms.sigmas[n - 1 - static_cast<int>(x * ss)]);
  return with_zero(s);
}

std::vector<float> ddim_uniform(const ModelSampling& ms, int steps) {
  const int n = static_cast<int>(ms.sigmas.size());
  std::vector<float> s;
  if (std::fabs(ms.sigmas[1]) <= 1e-5f) ++steps;
  else s.push_back(0.0f);
  const int ss = std::max(n / steps, 1);
  for (int x = 1; x < n; x += ss) s.push_back(ms.sigmas[x]);
  std::reverse(s.begin(), s.end());
  return s;
}

std::vector<float> beta(const ModelSampling& ms, int steps, double alpha = 0.6, double b = 0.6) {
  const int total = static_cast<int>(ms.sigmas.size()) - 1;
  std::vector<float> s;
  double last = -1.0;
  for (int i = 0; i < steps; ++i) {
    const double p = 1.0 - i * (1.0 / steps);  // 1 − numpy.linspace(0, 1, steps, endpoint=False)
    const double t = std::nearbyint(beta_ppf(p, alpha, b) * total);
    if (t != last) s.push_back(ms.sigmas[static_cast<int>(t)]);
    last = t;
  }
  return with_zero(s);
}

// continued fraction of I_x(a, b) (modified Lentz)
double beta_cf(double x, double a, double b) {
  const double tiny = 1e-300, eps = 1e-16;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < eps) break;
  }
  return h;
}

}  // namespace

double incomplete_beta(double x, double a, double b) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double lbeta = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b);
  const double front = std::exp(lbeta + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_cf(x, a, b) / a;
  return 1.0 - front * beta_cf(1.0 - x, b, a) / b;
}

double beta_ppf(double p, double a, double b) {
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return 1.0;
  if (a == b && p == 0.5) return 0.5;  // symmetric: exact (the continued fraction is 1 ulp off here)
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 200 && hi - lo > 0.0; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (incomplete_beta(mid, a, b) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

float ModelSampling::timestep(float sigma) const {
  const int n = static_cast<int>(log_sigmas.size());
  const float ls = std::log(sigma);
  int low = 0;
  for (int i = 0; i < n; ++i)
    if (ls - log_sigmas[i] >= 0.0f) low = i;
  low = std::min(low, n - 2);
  const int high = low + 1;
  const float lo = log_sigmas[low], hi = log_sigmas[high];
  float w = (lo - ls) / (lo - hi);
  w = std::clamp(w, 0.0f, 1.0f);
  return (1.0f - w) * static_cast<float>(low) + w * static_cast<float>(high);
}

int ModelSampling::timestep_nearest(float sigma) const {
  const float ls = std::log(sigma);
  int best = 0;
  float best_d = std::fabs(ls - log_sigmas[0]);
  for (int i = 1; i < static_cast<int>(log_sigmas.size()); ++i) {
    const float d = std::fabs(ls - log_sigmas[i]);
    if (d < best_d) {
      best_d = d;
      best = i;
    }
  }
  return best;
}

float ModelSampling::sigma(float t) const {
  const float tc = std::clamp(t, 0.0f, static_cast<float>(log_sigmas.size() - 1));
  const int low = static_cast<int>(std::floor(tc)), high = static_cast<int>(std::ceil(tc));
  const float w = tc - std::floor(tc);
  const float l = (1.0f - w) * log_sigmas[low] + w * log_sigmas[high];
  return std::exp(l);
}

ModelSampling model_sampling(const sd::SchedulerConfig& cfg, bool zero_terminal_snr) {
  const int n = cfg.num_train_timesteps;
  if (n < 2) fail("scheduler config: num_train_timesteps {} (need ≥ 2)", n);
  std::vector<double> betas;
  if (cfg.beta_schedule == "scaled_linear") {
    betas = linspace_f64(std::sqrt(as_written(cfg.beta_start)), std::sqrt(as_written(cfg.beta_end)), n);
    for (double& b : betas) b = b * b;
  } else if (cfg.beta_schedule == "linear") {
    betas = linspace_f64(as_written(cfg.beta_start), as_written(cfg.beta_end), n);
  } else {
    fail("scheduler config: beta_schedule '{}' not supported (valid: scaled_linear, linear)", cfg.beta_schedule);
  }
  std::vector<double> sig(n);
  double prod = 1.0;
  for (int i = 0; i < n; ++i) {
    if (!(betas[i] > 0.0 && betas[i] < 1.0))
      fail("scheduler config: beta[{}] = {} outside (0, 1) (beta_start {}, beta_end {})", i, betas[i], cfg.beta_start,
           cfg.beta_end);
    prod *= 1.0 - betas[i];
    sig[i] = std::sqrt((1.0 - prod) / prod);
  }
  if (zero_terminal_snr) {
    std::vector<double> ab(n);
    for (int i = 0; i < n; ++i) ab[i] = std::sqrt(1.0 / (sig[i] * sig[i] + 1.0));
    const double a0 = ab[0], aT = ab[n - 1];
    for (int i = 0; i < n; ++i) {
      ab[i] -= aT;
      ab[i] *= a0 / (a0 - aT);
      ab[i] = ab[i] * ab[i];
    }
    ab[n - 1] = 4.8973451890853435e-08;
    for (int i = 0; i < n; ++i) sig[i] = std::sqrt((1.0 - ab[i]) / ab[i]);
  }
  ModelSampling ms;
  ms.sigmas.resize(n);
  ms.log_sigmas.resize(n);
  for (int i = 0; i < n; ++i) {
    ms.sigmas[i] = static_cast<float>(sig[i]);
    ms.log_sigmas[i] = static_cast<float>(std::log(sig[i]));
  }
  return ms;
}

const std::vector<std::string>& sigma_schedule_names() {
  static const std::vector<std::string> names{"normal",       "discrete", "karras", "exponential", "sgm_uniform",
                                              "simple",       "ddim_uniform", "beta"};
  return names;
}

std::vector<float> sigma_schedule(const std::string& name, const ModelSampling& ms, int steps) {
  if (steps < 1 || steps > 10000) fail("scheduler {}: steps {} outside [1, 10000]", name, steps);
  if (ms.sigmas.size() < 2) fail("scheduler {}: empty model sigma table", name);
  if (name == "normal" || name == "discrete") return normal(ms, steps, false);
  if (name == "sgm_uniform") return normal(ms, steps, true);
  if (name == "karras") return karras(ms, steps);
  if (name == "exponential") return exponential(ms, steps);
  if (name == "simple") return simple(ms, steps);
  if (name == "ddim_uniform") return ddim_uniform(ms, steps);
  if (name == "beta") return beta(ms, steps);
  fail("scheduler '{}' unknown (valid: {})", name, fmt::join(sigma_schedule_names(), ", "));
}

}  // namespace ls::sampling
