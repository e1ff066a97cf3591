// The sampling loop: walk a noise schedule from unit noise to a clean latent, calling the denoiser once
// per step. The model is a callback, so this module knows nothing about UNets, prompts or CFG.
//
// Samplers (diffusers 0.40 scheduler classes with the SD1.5 scheduler config; step math cited per file):
//   "euler"    EulerDiscreteScheduler            (euler.cpp)
//   "euler_a"  EulerAncestralDiscreteScheduler   (euler_ancestral.cpp)
//   "dpm++2m"  DPMSolverMultistepScheduler, dpmsolver++, order 2, midpoint, lower_order_final,
//              final_sigmas_type "zero"          (dpmpp_2m.cpp)
//   "ddim"     DDIMScheduler, set_alpha_to_one from the config, eta from the spec (ddim.cpp)
// Schedulers (how steps are spread):
//   "normal"   the sampler's diffusers default spacing (euler, euler_a, dpm++2m: linspace; ddim: leading
//              with steps_offset); alias "discrete"
//   "karras"   Karras σ (ρ = 7) between the training σ_min and σ_max (euler, euler_a, dpm++2m)
//   "linspace", "leading", "trailing"   an explicit diffusers timestep_spacing
// The refsuite references are euler/normal, euler_a/normal, dpm++2m/karras ("DPM++ 2M Karras"), ddim/normal.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "models/sd1/config.h"
#include "runtime/tensor.h"
#include "sampling/schedule.h"

namespace ls::sampling {

/// Which sampler, which schedule, how many steps.
struct SamplerSpec {
  std::string sampler = "euler";     ///< see sampler_names()
  std::string scheduler = "normal";  ///< see scheduler_names()
  int steps = 20;                    ///< number of model evaluations (1 ≤ steps ≤ num_train_timesteps)
  float eta = 0.0f;                  ///< DDIM only: 0 = deterministic DDIM, 1 = DDPM-like; ignored otherwise
};

/// The denoiser: (model_input [N, C, H, W] F32, timestep) → model output of the same shape, already
/// CFG-combined, in the config's prediction type (ε or v). `model_input` is what diffusers'
/// scale_model_input gives: x/√(σ²+1) for euler/euler_a, x unchanged for dpm++2m and ddim.
using DenoiseFn = std::function<Tensor(const Tensor& model_input, float timestep)>;
/// Unit-variance Gaussian noise of `shape` for step `step` (0-based); used by euler_a and by ddim with
/// eta > 0. May be empty for deterministic samplers.
using NoiseFn = std::function<Tensor(const Shape& shape, int step)>;
/// Progress: called after step `step` (0-based) of `total` with the latents after that step.
using StepFn = std::function<void(int step, int total, const Tensor& latents)>;

/// Valid sampler names, in documentation order.
const std::vector<std::string>& sampler_names();
/// Valid scheduler names.
const std::vector<std::string>& scheduler_names();

/// The schedule `spec` walks under `cfg` (timesteps, sigmas, init_noise_sigma). Throws ls::Error for an
/// unknown sampler or scheduler name (the message lists the valid names), a scheduler the sampler does not
/// support (ddim + karras), steps out of range, or a bad config (training_schedule()).
Schedule make_schedule(const SamplerSpec& spec, const sd::SchedulerConfig& cfg);

/// Run the sampler. `initial_noise` [N, C, H, W] F32 CPU is unit-variance noise; the sampler starts from
/// initial_noise · init_noise_sigma. Calls `denoise` `spec.steps` times, `noise` once per step when the
/// sampler is stochastic (euler_a; ddim with eta > 0), `on_step` (if set) after every step. Returns the
/// final latents (same shape, F32). Throws ls::Error for bad names/config (make_schedule), an undefined or
/// non-F32 `initial_noise`, a missing NoiseFn when one is needed, a denoiser or noise output whose shape or
/// dtype differs from the latents, or a prediction_type other than "epsilon" / "v_prediction".
Tensor sample(const SamplerSpec& spec, const sd::SchedulerConfig& cfg, const Tensor& initial_noise,
              const DenoiseFn& denoise, const NoiseFn& noise = {}, const StepFn& on_step = {});

}  // namespace ls::sampling
