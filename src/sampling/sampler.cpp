// Sampler / scheduler names, the sampling plan per convention, and the loop with img2img / inpainting
// (see sampler.h).
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sampling/elementwise.h"

namespace ls::sampling {
namespace {

std::string canonical_sampler(const std::string& name) {
  if (name == "uni_pc_bh2") return "uni_pc";
  for (const auto& n : k_sampler_names())
    if (n == name) return n;
  fail("sampler '{}' unknown (valid: {})", name, fmt::join(sampler_names(), ", "));
}

bool is_diffusers_spacing(const std::string& s) { return s == "linspace" || s == "leading" || s == "trailing"; }

bool is_legacy_sampler(const std::string& s) { return s == "euler" || s == "euler_a" || s == "dpm++2m" || s == "ddim"; }

void check_scheduler(const std::string& s) {
  for (const auto& n : scheduler_names())
    if (n == s) return;
  fail("scheduler '{}' unknown (valid: {})", s, fmt::join(scheduler_names(), ", "));
}

// diffusers' schedule classes (schedule.h) for the four samplers they exist for
void diffusers_plan(SamplingPlan& p, const std::string& sampler, const std::string& scheduler,
                    const sd::SchedulerConfig& cfg, int steps) {
  const TrainingSchedule train = training_schedule(cfg);
  const bool karras = scheduler == "karras";
  Spacing sp = Spacing::Linspace;
  if (scheduler == "leading") sp = Spacing::Leading;
  else if (scheduler == "trailing") sp = Spacing::Trailing;
  else if (sampler == "ddim" && (scheduler == "normal" || scheduler == "discrete")) sp = Spacing::Leading;
  Schedule s;
  if (sampler == "euler" || sampler == "euler_a") {
    s = euler_schedule(train, cfg, steps, sp, karras);
    p.sigmas = s.sigmas;
    p.init_noise_scale = s.init_noise_sigma;
  } else if (sampler == "dpm++2m") {
    s = dpm_schedule(train, cfg, steps, sp, karras);
    p.sigmas = s.sigmas;
    p.init_noise_scale = static_cast<float>(std::sqrt(1.0 + double(p.sigmas[0]) * p.sigmas[0]));  // VP unit noise
  } else {  // ddim
    if (karras) fail("scheduler 'karras' not supported by sampler 'ddim' in the diffusers convention");
    s = ddim_schedule(train, cfg, steps, sp);
    for (float t : s.timesteps) p.sigmas.push_back(train.sigmas[static_cast<size_t>(t)]);
    const float final_ac = cfg.set_alpha_to_one ? 1.0f : train.alphas_cumprod[0];
    p.sigmas.push_back(static_cast<float>(std::sqrt((1.0 - final_ac) / final_ac)));
    p.vp_output = p.sigmas.back() > 0.0f;
    p.init_noise_scale = static_cast<float>(std::sqrt(1.0 + double(p.sigmas[0]) * p.sigmas[0]));
  }
  p.timesteps = s.timesteps;
}

Tensor blend(const Tensor& x, const Tensor& keep, const Tensor& mask) {
  // x·m + keep·(1 − m), mask broadcast over channels and (when its batch is 1) over the batch
  Tensor out = Tensor::empty(x.shape());
  const int64_t n = x.dim(0), c = x.dim(1), hw = x.dim(2) * x.dim(3);
  const float* px = x.data<float>();
  const float* pk = keep.data<float>();
  const float* pm = mask.data<float>();
  float* po = out.data<float>();
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < hw; ++k) {
        const int64_t i = (b * c + ch) * hw + k;
        const float m = pm[(mask.dim(0) == 1 ? 0 : b) * hw + k];
        po[i] = px[i] * m + pk[i] * (1.0f - m);
      }
  return out;
}

}  // namespace

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v = k_sampler_names();
    v.push_back("uni_pc_bh2");
    return v;
  }();
  return names;
}

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v = sigma_schedule_names();
    for (const char* s : {"linspace", "leading", "trailing"}) v.push_back(s);
    return v;
  }();
  return names;
}

float SamplingPlan::timestep_for(float sigma) const {
  for (size_t i = 0; i < timesteps.size() && i < sigmas.size(); ++i)
    if (sigmas[i] == sigma) return timesteps[i];
  return nearest_timestep ? static_cast<float>(table.timestep_nearest(sigma)) : table.timestep(sigma);
}

SamplingPlan make_plan(const SamplerSpec& spec, const sd::SchedulerConfig& cfg) {
  const std::string name = canonical_sampler(spec.sampler);
  check_scheduler(spec.scheduler);
  const std::string& conv = spec.convention;
  if (conv != "a1111" && conv != "comfyui" && conv != "diffusers")
    fail("sampling convention '{}' unknown (valid: a1111, comfyui, diffusers)", conv);
  if (spec.steps < 1 || spec.steps > 10000) fail("sampling: steps {} outside [1, 10000]", spec.steps);
  if (!(spec.denoise >= 0.0f && spec.denoise <= 1.0f)) fail("sampling: denoise strength {} outside [0, 1]", spec.denoise);
  if (!(spec.eta >= 0.0f) || !std::isfinite(spec.eta) || !(spec.ancestral_eta >= 0.0f) ||
      !std::isfinite(spec.ancestral_eta) || !(spec.s_noise >= 0.0f) || !std::isfinite(spec.s_noise))
    fail("sampling: eta {} / ancestral eta {} / s_noise {} (need finite ≥ 0)", spec.eta, spec.ancestral_eta,
         spec.s_noise);

  SamplingPlan p;
  p.table = model_sampling(cfg, spec.zero_terminal_snr);
  const bool legacy = is_legacy_sampler(name) &&
                      (is_diffusers_spacing(spec.scheduler) ||
                       (conv == "diffusers" && (spec.scheduler == "normal" || spec.scheduler == "discrete" ||
                                                spec.scheduler == "karras")));
  if (legacy) {
    diffusers_plan(p, name, spec.scheduler, cfg, spec.steps);
  } else if (is_diffusers_spacing(spec.scheduler)) {
    // an explicit diffusers spacing for the other samplers: EulerDiscrete's σ list and timesteps
    const Schedule s = euler_schedule(training_schedule(cfg), cfg, spec.steps,
                                      spec.scheduler == "leading"    ? Spacing::Leading
                                      : spec.scheduler == "trailing" ? Spacing::Trailing
                                                                     : Spacing::Linspace,
                                      false);
    p.sigmas = s.sigmas;
    p.timesteps = s.timesteps;
    p.init_noise_scale = p.sigmas[0];
  } else {
    const bool discard = k_sampler_discards_penultimate_sigma(name);
    p.sigmas = sigma_schedule(spec.scheduler, p.table, discard ? spec.steps + 1 : spec.steps);
    if (discard && p.sigmas.size() >= 3) p.sigmas.erase(p.sigmas.end() - 2);
    p.init_noise_scale = p.sigmas[0];
    if (conv == "comfyui") {
      p.nearest_timestep = true;
      if (p.sigmas[0] >= p.table.sigma_max() * (1.0f - 1e-5f))
        p.init_noise_scale = static_cast<float>(std::sqrt(1.0 + double(p.sigmas[0]) * p.sigmas[0]));
    }
  }
  if (p.sigmas.size() < 2) fail("sampling: scheduler {} gave {} sigmas for {} steps", spec.scheduler, p.sigmas.size(), spec.steps);
  if (name == "uni_pc" || name == "uni_pc_bh1") {
    if (p.sigmas.size() < 3) fail("sampler {}: needs at least 2 steps (got 1)", spec.sampler);
  }
  if (spec.denoise < 1.0f) {
    if (spec.denoise <= 0.0f) {
      p.sigmas.clear();
      p.timesteps.clear();
      return p;
    }
    // A1111 (img2img_fix_steps off): t_enc = int(min(denoise, 0.999)·steps); walk sigmas[steps − t_enc − 1:]
    const int total = static_cast<int>(p.sigmas.size()) - 1;
    const int t_enc = static_cast<int>(std::min(spec.denoise, 0.999f) * static_cast<float>(total));
    const int start = total - t_enc - 1;
    p.sigmas.erase(p.sigmas.begin(), p.sigmas.begin() + start);
    if (!p.timesteps.empty())
      p.timesteps.erase(p.timesteps.begin(), p.timesteps.begin() + std::min<size_t>(start, p.timesteps.size()));
    p.init_noise_scale = p.sigmas[0];  // x = init + σ₀·noise (VP add_noise divided by √ᾱ is the same)
    if ((name == "uni_pc" || name == "uni_pc_bh1") && p.sigmas.size() < 3)
      fail("sampler {}: denoise {} leaves 1 step (uni_pc needs ≥ 2)", spec.sampler, spec.denoise);
  }
  return p;
}

Schedule make_schedule(const SamplerSpec& spec, const sd::SchedulerConfig& cfg) {
  const SamplingPlan p = make_plan(spec, cfg);
  Schedule s;
  s.sigmas = p.sigmas;
  for (size_t i = 0; i + 1 < p.sigmas.size(); ++i) s.timesteps.push_back(p.timestep_for(p.sigmas[i]));
  s.init_noise_sigma = p.init_noise_scale;
  return s;
}

Tensor sample(const SamplerSpec& spec, const sd::SchedulerConfig& cfg, const Tensor& initial_noise,
              const DenoiseFn& denoise, const NoiseFn& noise, const StepFn& on_step, const LatentInputs& lat) {
  const SamplingPlan plan = make_plan(spec, cfg);
  const bool v_pred = cfg.prediction_type == "v_prediction";
  if (!v_pred && cfg.prediction_type != "epsilon")
    fail("scheduler config: prediction_type '{}' not supported (valid: epsilon, v_prediction)", cfg.prediction_type);
  if (!denoise) fail("sampling: no DenoiseFn given");
  if (!initial_noise.defined() || initial_noise.dtype() != DType::F32 || initial_noise.device() != Device::CPU ||
      initial_noise.ndim() != 4)
    fail("sampling: initial noise must be an F32 CPU tensor [N, C, H, W]");
  const Shape& shape = initial_noise.shape();
  Tensor init = lat.init_latents.defined() ? lat.init_latents : Tensor::zeros(shape);
  if (init.dtype() != DType::F32 || init.shape() != shape)
    fail("sampling: init latents {} do not match the noise {}", shape_str(init.shape()), shape_str(shape));
  const Tensor& mask = lat.mask;
  if (mask.defined() && (mask.dtype() != DType::F32 || mask.ndim() != 4 || mask.dim(1) != 1 ||
                         (mask.dim(0) != 1 && mask.dim(0) != shape[0]) || mask.dim(2) != shape[2] ||
                         mask.dim(3) != shape[3]))
    fail("sampling: mask {} does not fit latents {} (need [N or 1, 1, h, w] F32)", shape_str(mask.shape()),
         shape_str(shape));
  if (plan.sigmas.empty()) return init.clone();

  const std::string name = canonical_sampler(spec.sampler);
  const float scale = plan.init_noise_scale;
  Tensor x = map2(initial_noise, init, [scale](float n, float i) { return n * scale + i; });

  Denoiser D = [&](const Tensor& xs, float sigma) -> Tensor {
    Tensor xin = xs;
    if (mask.defined()) {
      Tensor noisy = map2(initial_noise, init, [sigma](float n, float i) { return n * sigma + i; });
      xin = blend(xs, noisy, mask);
    }
    const float c_in = static_cast<float>(1.0 / std::sqrt(double(sigma) * sigma + 1.0));
    Tensor input = map1(xin, [c_in](float v) { return v * c_in; });
    Tensor out = denoise(input, plan.timestep_for(sigma));
    if (!out.defined() || out.dtype() != DType::F32 || out.shape() != xin.shape())
      fail("sampling: model output at sigma {} has shape {}, latents are {}", sigma,
           out.defined() ? shape_str(out.shape()) : "undefined", shape_str(xin.shape()));
    Tensor x0;
    if (!v_pred) {
      x0 = map2(xin, out, [sigma](float v, float e) { return v - sigma * e; });
    } else {
      const float s2p1 = sigma * sigma + 1.0f;
      const float c_out = -sigma / std::sqrt(s2p1);
      x0 = map2(xin, out, [c_out, s2p1](float v, float m) { return m * c_out + v / s2p1; });
    }
    return mask.defined() ? blend(x0, init, mask) : x0;
  };
  int draws = 0;
  StepNoise step_noise;
  if (noise) step_noise = [&](float, float) { return noise(shape, draws++); };
  KOptions opt;
  opt.eta = name == "ddim" ? spec.eta : spec.ancestral_eta;
  opt.s_noise = spec.s_noise;
  KCallback cb;
  if (on_step) cb = [&](int i, int n, const Tensor& xs) { on_step(i, n, xs); };
  Tensor result = k_sample(name, D, x, plan.sigmas, step_noise, opt, cb);
  if (plan.vp_output) {
    const float last = plan.sigmas.back();
    const float f = static_cast<float>(std::sqrt(1.0 + double(last) * last));
    result = map1(result, [f](float v) { return v / f; });
  }
  if (mask.defined()) result = blend(result, init, mask);
  return result;
}

}  // namespace ls::sampling
