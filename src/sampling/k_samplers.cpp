// Sampler dispatch and the first-order / two-evaluation samplers (see k_samplers.h for the references).
#include "sampling/k_samplers.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sampling/elementwise.h"

namespace ls::sampling {
namespace detail {

Tensor call_denoiser(const Denoiser& d, const Tensor& x, float sigma, const char* sampler) {
  Tensor out = d(x, sigma);
  if (!out.defined() || out.dtype() != DType::F32 || out.device() != Device::CPU || out.shape() != x.shape())
    fail("sampler {}: denoiser output at sigma {} has shape {} (need F32 CPU {})", sampler, sigma,
         out.defined() ? shape_str(out.shape()) : "undefined", shape_str(x.shape()));
  return out;
}

Tensor draw(const StepNoise& n, const Tensor& x, float sigma, float sigma_next, const char* sampler) {
  if (!n) fail("sampler {} needs a noise source (none given)", sampler);
  Tensor z = n(sigma, sigma_next);
  if (!z.defined() || z.dtype() != DType::F32 || z.device() != Device::CPU || z.shape() != x.shape())
    fail("sampler {}: noise at sigma {} has shape {} (need F32 CPU {})", sampler, sigma,
         z.defined() ? shape_str(z.shape()) : "undefined", shape_str(x.shape()));
  return z;
}

void ancestral_step(float sigma, float sigma_next, float eta, float& sigma_down, float& sigma_up) {
  if (eta == 0.0f) {
    sigma_down = sigma_next;
    sigma_up = 0.0f;
    return;
  }
  const double f = sigma, t = sigma_next;
  const double up = std::min(t, eta * std::sqrt(std::max(0.0, t * t * (f * f - t * t) / (f * f))));
  sigma_up = static_cast<float>(up);
  sigma_down = static_cast<float>(std::sqrt(std::max(0.0, t * t - up * up)));
}

}  // namespace detail

namespace {

using detail::ancestral_step;
using detail::call_denoiser;
using detail::draw;

// x + d·dt with d = (x − x̂₀)/σ (k-diffusion to_d, then the Euler update)
Tensor euler_update(const Tensor& x, const Tensor& den, float sigma, float dt) {
  return map2(x, den, [sigma, dt](float v, float d0) {
    const float d = (v - d0) / sigma;
    return v + d * dt;
  });
}

Tensor add_noise(const Tensor& x, const Tensor& z, float scale) {
  return map2(x, z, [scale](float v, float n) { return v + n * scale; });
}

Tensor sample_euler(const Denoiser& D, Tensor x, const std::vector<float>& s, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "euler");
    x = euler_update(x, den, s[i], s[i + 1] - s[i]);
    if (cb) cb(i, n, x);
  }
  return x;
}

Tensor sample_euler_a(const Denoiser& D, Tensor x, const std::vector<float>& s, const StepNoise& noise,
                      const KOptions& o, const KCallback& cb, const char* name) {
  const int n = static_cast<int>(s.size()) - 1;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], name);
    float down, up;
    ancestral_step(s[i], s[i + 1], o.eta, down, up);
    x = euler_update(x, den, s[i], down - s[i]);
    if (s[i + 1] > 0.0f) x = add_noise(x, draw(noise, x, s[i], s[i + 1], name), o.s_noise * up);
    if (cb) cb(i, n, x);
  }
  return x;
}

Tensor sample_heun(const Denoiser& D, Tensor x, const std::vector<float>& s, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  for (int i = 0; i < n; ++i) {
    const float sig = s[i], dt = s[i + 1] - s[i];
    Tensor den = call_denoiser(D, x, sig, "heun");
    if (s[i + 1] == 0.0f) {
      x = euler_update(x, den, sig, dt);
    } else {
      Tensor d = map2(x, den, [sig](float v, float d0) { return (v - d0) / sig; });
      Tensor x2 = map2(x, d, [dt](float v, float dd) { return v + dd * dt; });
      Tensor den2 = call_denoiser(D, x2, s[i + 1], "heun");
      const float s1 = s[i + 1];
      Tensor d2 = map2(x2, den2, [s1](float v, float d0) { return (v - d0) / s1; });
      x = map3(x, d, d2, [dt](float v, float a, float b) {
        const float dp = (a + b) / 2.0f;
        return v + dp * dt;
      });
    }
    if (cb) cb(i, n, x);
  }
  return x;
}

// one DPM-Solver-2 step from σ to `target` (> 0): midpoint exp(lerp(log σ, log target, ½))
Tensor dpm2_step(const Denoiser& D, const Tensor& x, const Tensor& den, float sig, float target, const char* name) {
  const float ls = std::log(sig), lt = std::log(target);
  const float mid = std::exp(ls + 0.5f * (lt - ls));
  const float dt1 = mid - sig, dt2 = target - sig;
  Tensor d = map2(x, den, [sig](float v, float d0) { return (v - d0) / sig; });
  Tensor x2 = map2(x, d, [dt1](float v, float dd) { return v + dd * dt1; });
  Tensor den2 = call_denoiser(D, x2, mid, name);
  Tensor d2 = map2(x2, den2, [mid](float v, float d0) { return (v - d0) / mid; });
  return map2(x, d2, [dt2](float v, float dd) { return v + dd * dt2; });
}

Tensor sample_dpm2(const Denoiser& D, Tensor x, const std::vector<float>& s, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "dpm2");
    x = s[i + 1] == 0.0f ? euler_update(x, den, s[i], s[i + 1] - s[i]) : dpm2_step(D, x, den, s[i], s[i + 1], "dpm2");
    if (cb) cb(i, n, x);
  }
  return x;
}

Tensor sample_dpm2_a(const Denoiser& D, Tensor x, const std::vector<float>& s, const StepNoise& noise,
                     const KOptions& o, const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  for (int i = 0; i < n; ++i) {
    Tensor den = call_denoiser(D, x, s[i], "dpm2_a");
    float down, up;
    ancestral_step(s[i], s[i + 1], o.eta, down, up);
    if (down == 0.0f) {
      x = euler_update(x, den, s[i], down - s[i]);
    } else {
      x = dpm2_step(D, x, den, s[i], down, "dpm2_a");
      x = add_noise(x, draw(noise, x, s[i], s[i + 1], "dpm2_a"), o.s_noise * up);  // inside the else, as k-diffusion
    }
    if (cb) cb(i, n, x);
  }
  return x;
}

Tensor sample_lcm(const Denoiser& D, Tensor x, const std::vector<float>& s, const StepNoise& noise, const KOptions& o,
                  const KCallback& cb) {
  const int n = static_cast<int>(s.size()) - 1;
  for (int i = 0; i < n; ++i) {
    x = call_denoiser(D, x, s[i], "lcm");
    if (s[i + 1] > 0.0f) {
      Tensor z = draw(noise, x, s[i], s[i + 1], "lcm");
      const float scale = s[i + 1] * o.s_noise;
      x = map2(z, x, [scale](float nz, float v) { return nz * scale + v; });
    }
    if (cb) cb(i, n, x);
  }
  return x;
}

}  // namespace

const std::vector<std::string>& k_sampler_names() {
  static const std::vector<std::string> names{"euler",       "euler_a",     "heun", "dpm2", "dpm2_a",
                                              "dpm++2s_a",   "dpm++2m",     "dpm++2m_sde",  "dpm++3m_sde",
                                              "lms",         "ddim",        "lcm",  "uni_pc", "uni_pc_bh1"};
  return names;
}

bool k_sampler_needs_noise(const std::string& name, float eta) {
  if (name == "ddim") return eta > 0.0f;
  return name == "euler_a" || name == "dpm2_a" || name == "dpm++2s_a" || name == "dpm++2m_sde" ||
         name == "dpm++3m_sde" || name == "lcm";
}

bool k_sampler_discards_penultimate_sigma(const std::string& name) {
  return name == "dpm2" || name == "dpm2_a" || name == "uni_pc" || name == "uni_pc_bh1";
}

int k_sampler_evaluations(const std::string& name, const std::vector<float>& sigmas) {
  const int n = static_cast<int>(sigmas.size()) - 1;
  if (n <= 0) return 0;
  int twice = 0;
  for (int i = 0; i < n; ++i) twice += sigmas[i + 1] > 0.0f;
  if (name == "heun" || name == "dpm2" || name == "dpm2_a" || name == "dpm++2s_a") return n + twice;
  return n;
}

Tensor k_sample(const std::string& name, const Denoiser& D, Tensor x, const std::vector<float>& s,
                const StepNoise& noise, const KOptions& o, const KCallback& cb) {
  if (!D) fail("sampler {}: no denoiser given", name);
  if (s.size() < 2) fail("sampler {}: need at least 2 sigmas, got {}", name, s.size());
  for (size_t i = 0; i < s.size(); ++i)
    if (!(s[i] >= 0.0f) || !std::isfinite(s[i])) fail("sampler {}: sigma[{}] = {} (need finite ≥ 0)", name, i, s[i]);
  if (!x.defined() || x.dtype() != DType::F32 || x.device() != Device::CPU)
    fail("sampler {}: latents must be F32 on the CPU", name);
  if (!(o.eta >= 0.0f) || !(o.s_noise >= 0.0f)) fail("sampler {}: eta {} / s_noise {} (need ≥ 0)", name, o.eta, o.s_noise);
  if (name == "euler") return sample_euler(D, x, s, cb);
  if (name == "euler_a") return sample_euler_a(D, x, s, noise, o, cb, "euler_a");
  if (name == "ddim") return o.eta > 0.0f ? sample_euler_a(D, x, s, noise, o, cb, "ddim") : sample_euler(D, x, s, cb);
  if (name == "heun") return sample_heun(D, x, s, cb);
  if (name == "dpm2") return sample_dpm2(D, x, s, cb);
  if (name == "dpm2_a") return sample_dpm2_a(D, x, s, noise, o, cb);
  if (name == "dpm++2s_a") return detail::sample_dpmpp_2s_a(D, x, s, noise, o, cb);
  if (name == "dpm++2m") return detail::sample_dpmpp_2m(D, x, s, cb);
  if (name == "dpm++2m_sde") return detail::sample_dpmpp_2m_sde(D, x, s, noise, o, cb);
  if (name == "dpm++3m_sde") return detail::sample_dpmpp_3m_sde(D, x, s, noise, o, cb);
  if (name == "lms") return detail::sample_lms(D, x, s, cb);
  if (name == "lcm") return sample_lcm(D, x, s, noise, o, cb);
  if (name == "uni_pc") return detail::sample_unipc(D, x, s, true, cb);
  if (name == "uni_pc_bh1") return detail::sample_unipc(D, x, s, false, cb);
  fail("sampler '{}' unknown (valid: {})", name, fmt::join(k_sampler_names(), ", "));
}

}  // namespace ls::sampling
