// Training and inference noise schedules (see schedule.h). Float rounding follows the reference stack
// step by step (torch float32 tensors, numpy float64 arrays) so the refsuite values are reproduced exactly;
// this module is compiled with -ffp-contract=off so the compiler does not fuse what torch rounds twice.
#include "sampling/schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "runtime/error.h"

namespace ls::sampling {
namespace {

// The decimal a config value was written as: SchedulerConfig stores beta_start/beta_end as float, diffusers
// computes with the Python double of the JSON text. The shortest decimal that round-trips to the float is
// that text for every value a config file holds (0.00085f → "0.00085").
double as_written(float v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf) - 1, v);
  *res.ptr = '\0';
  return std::strtod(buf, nullptr);
}

// numpy.linspace(0, stop, n) in float64: i·(stop/(n−1)), the last value exactly `stop`.
std::vector<double> np_linspace(double stop, int n) {
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  if (n == 1) return out;
  const double step = stop / (n - 1);
  for (int i = 0; i < n; ++i) out[i] = i * step;
  out[n - 1] = stop;
  return out;
}

// numpy.arange(start, 0, -ratio) with a float ratio, `n` values.
std::vector<double> np_arange_down(double start, double ratio, int n) {
  std::vector<double> out(static_cast<size_t>(n));
  const double delta = (start - ratio) - start;
  for (int i = 0; i < n; ++i) out[i] = start + i * delta;
  return out;
}

double round_even(double v) { return std::nearbyint(v); }

void check_steps(const sd::SchedulerConfig& cfg, int steps) {
  if (steps < 1 || steps > cfg.num_train_timesteps)
    fail("sampling: steps {} outside [1, num_train_timesteps = {}]", steps, cfg.num_train_timesteps);
}

std::vector<float> log_sigmas_f32(const TrainingSchedule& train) {
  std::vector<float> out(train.sigmas.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::log(train.sigmas[i]);
  return out;
}

}  // namespace

const char* spacing_name(Spacing s) {
  switch (s) {
    case Spacing::Linspace: return "linspace";
    case Spacing::Leading: return "leading";
    case Spacing::Trailing: return "trailing";
  }
  return "?";
}

TrainingSchedule training_schedule(const sd::SchedulerConfig& cfg) {
  const int n = cfg.num_train_timesteps;
  if (n < 2) fail("scheduler config: num_train_timesteps {} (need ≥ 2)", n);
  TrainingSchedule s;
  if (cfg.beta_schedule == "scaled_linear") {
    s.betas = torch_linspace_f32(static_cast<float>(std::sqrt(as_written(cfg.beta_start))),
                                 static_cast<float>(std::sqrt(as_written(cfg.beta_end))), n);
    for (float& b : s.betas) b = b * b;
  } else if (cfg.beta_schedule == "linear") {
    s.betas = torch_linspace_f32(static_cast<float>(as_written(cfg.beta_start)), static_cast<float>(as_written(cfg.beta_end)), n);
  } else {
    fail("scheduler config: beta_schedule '{}' not supported (valid: scaled_linear, linear)", cfg.beta_schedule);
  }
  s.alphas_cumprod.resize(n);
  s.sigmas.resize(n);
  double prod = 1.0;  // torch's CPU cumprod accumulates float32 in double
  for (int i = 0; i < n; ++i) {
    const float b = s.betas[i];
    if (!(b > 0.0f && b < 1.0f))
      fail("scheduler config: beta[{}] = {} outside (0, 1) (beta_start {}, beta_end {})", i, b, cfg.beta_start,
           cfg.beta_end);
    prod *= static_cast<double>(1.0f - b);
    const float ac = static_cast<float>(prod);
    s.alphas_cumprod[i] = ac;
    s.sigmas[i] = std::sqrt((1.0f - ac) / ac);
  }
  return s;
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n, double rho) {
  std::vector<double> ramp = np_linspace(1.0, n);
  const double min_inv_rho = std::pow(sigma_min, 1.0 / rho);
  const double max_inv_rho = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out[i] = std::pow(max_inv_rho + ramp[i] * (min_inv_rho - max_inv_rho), rho);
  return out;
}

double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
  const int n = static_cast<int>(log_sigmas.size());
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  // last index whose log σ ≤ log_sigma (0 if none), kept one below the end
  int low = 0;
  for (int i = 0; i < n; ++i)
    if (log_sigma - static_cast<double>(log_sigmas[i]) >= 0.0) low = i;
  low = std::min(low, n - 2);
  const int high = low + 1;
  const float lo = log_sigmas[low], hi = log_sigmas[high];
  double w = (static_cast<double>(lo) - log_sigma) / static_cast<double>(lo - hi);
  w = std::clamp(w, 0.0, 1.0);
  return (1.0 - w) * low + w * high;
}

double sigma_at(const TrainingSchedule& train, double t) {
  const std::vector<float>& fp = train.sigmas;
  const int n = static_cast<int>(fp.size());
  if (t <= 0.0) return fp[0];
  if (t >= n - 1) return fp[n - 1];
  const int j = static_cast<int>(std::floor(t));
  if (static_cast<double>(j) == t) return fp[j];
  const double slope = static_cast<double>(fp[j + 1]) - static_cast<double>(fp[j]);
  return slope * (t - j) + static_cast<double>(fp[j]);
}

Schedule euler_schedule(const TrainingSchedule& train, const sd::SchedulerConfig& cfg, int steps, Spacing spacing,
                        bool karras) {
  check_steps(cfg, steps);
  const int n = cfg.num_train_timesteps;
  std::vector<float> ts(static_cast<size_t>(steps));
  switch (spacing) {
    case Spacing::Linspace: {
      std::vector<double> lin = np_linspace(n - 1, steps);
      for (int i = 0; i < steps; ++i) ts[i] = static_cast<float>(lin[steps - 1 - i]);
      break;
    }
    case Spacing::Leading: {
      const int ratio = n / steps;
      for (int i = 0; i < steps; ++i) ts[i] = static_cast<float>((steps - 1 - i) * ratio) + cfg.steps_offset;
      break;
    }
    case Spacing::Trailing: {
      std::vector<double> a = np_arange_down(n, static_cast<double>(n) / steps, steps);
      for (int i = 0; i < steps; ++i) ts[i] = static_cast<float>(round_even(a[i])) - 1.0f;
      break;
    }
  }
  std::vector<double> sig(static_cast<size_t>(steps));
  for (int i = 0; i < steps; ++i) sig[i] = sigma_at(train, ts[i]);
  if (karras) {
    sig = karras_sigmas(sig.back(), sig.front(), steps);
    const std::vector<float> log_sigmas = log_sigmas_f32(train);
    for (int i = 0; i < steps; ++i) ts[i] = static_cast<float>(sigma_to_t(sig[i], log_sigmas));
  }
  Schedule s;
  s.timesteps = std::move(ts);
  s.sigmas.resize(steps + 1);
  for (int i = 0; i < steps; ++i) s.sigmas[i] = static_cast<float>(sig[i]);
  s.sigmas[steps] = 0.0f;
  const float max_sigma = *std::max_element(s.sigmas.begin(), s.sigmas.end());
  s.init_noise_sigma =
      spacing == Spacing::Leading ? std::sqrt(max_sigma * max_sigma + 1.0f) : max_sigma;
  return s;
}

Schedule dpm_schedule(const TrainingSchedule& train, const sd::SchedulerConfig& cfg, int steps, Spacing spacing,
                      bool karras) {
  check_steps(cfg, steps);
  const int n = cfg.num_train_timesteps;
  std::vector<double> ts(static_cast<size_t>(steps));
  switch (spacing) {
    case Spacing::Linspace: {
      std::vector<double> lin = np_linspace(n - 1, steps + 1);
      for (int i = 0; i < steps; ++i) ts[i] = round_even(lin[steps - i]);
      break;
    }
    case Spacing::Leading: {
      const int ratio = n / (steps + 1);
      if (ratio < 1) fail("sampling: {} steps too many for leading spacing over {} timesteps", steps, n);
      for (int i = 0; i < steps; ++i) ts[i] = static_cast<double>((steps - i) * ratio + cfg.steps_offset);
      break;
    }
    case Spacing::Trailing: {
      std::vector<double> a = np_arange_down(n, static_cast<double>(n) / steps, steps);
      for (int i = 0; i < steps; ++i) ts[i] = round_even(a[i]) - 1.0;
      break;
    }
  }
  std::vector<double> sig(static_cast<size_t>(steps));
  if (karras) {
    sig = karras_sigmas(train.sigmas.front(), train.sigmas.back(), steps);
    const std::vector<float> log_sigmas = log_sigmas_f32(train);
    for (int i = 0; i < steps; ++i) ts[i] = round_even(sigma_to_t(sig[i], log_sigmas));
  } else {
    for (int i = 0; i < steps; ++i) sig[i] = sigma_at(train, ts[i]);
  }
  Schedule s;
  s.timesteps.resize(steps);
  s.sigmas.resize(steps + 1);
  for (int i = 0; i < steps; ++i) {
    s.timesteps[i] = static_cast<float>(ts[i]);
    s.sigmas[i] = static_cast<float>(sig[i]);
  }
  s.sigmas[steps] = 0.0f;
  s.init_noise_sigma = 1.0f;
  return s;
}

Schedule ddim_schedule(const TrainingSchedule& train, const sd::SchedulerConfig& cfg, int steps, Spacing spacing) {
  (void)train;
  check_steps(cfg, steps);
  const int n = cfg.num_train_timesteps;
  Schedule s;
  s.timesteps.resize(steps);
  switch (spacing) {
    case Spacing::Linspace: {
      std::vector<double> lin = np_linspace(n - 1, steps);
      for (int i = 0; i < steps; ++i) s.timesteps[i] = static_cast<float>(round_even(lin[steps - 1 - i]));
      break;
    }
    case Spacing::Leading: {
      const int ratio = n / steps;
      for (int i = 0; i < steps; ++i) s.timesteps[i] = static_cast<float>((steps - 1 - i) * ratio + cfg.steps_offset);
      break;
    }
    case Spacing::Trailing: {
      std::vector<double> a = np_arange_down(n, static_cast<double>(n) / steps, steps);
      for (int i = 0; i < steps; ++i) s.timesteps[i] = static_cast<float>(round_even(a[i]) - 1.0);
      break;
    }
  }
  for (float t : s.timesteps)
    if (t < 0.0f || t > n - 1)
      fail("sampling: ddim timestep {} outside [0, {}] (steps {}, steps_offset {}, spacing {})", t, n - 1, steps,
           cfg.steps_offset, spacing_name(spacing));
  s.init_noise_sigma = 1.0f;
  return s;
}

std::vector<float> torch_linspace_f32(float start, float end, int n) {
  std::vector<float> out(static_cast<size_t>(std::max(n, 0)));
  if (n == 1) out[0] = start;
  if (n <= 1) return out;
  const float step = (end - start) / static_cast<float>(n - 1);
  const int halfway = n / 2;
  for (int i = 0; i < n; ++i)
    out[i] = i < halfway ? std::fma(step, static_cast<float>(i), start)
                         : std::fma(-step, static_cast<float>(n - i - 1), end);
  return out;
}

}  // namespace ls::sampling
