// The sampling loop as the engine uses it: a sampler (k_samplers.h) walking a σ schedule
// (sigma_schedules.h, or a diffusers spacing from schedule.h) with the model wrapped as a denoiser, in the
// conventions of A1111, ComfyUI or diffusers; img2img (denoise < 1) and latent-mask inpainting.
//
// Conventions (SamplerSpec::convention) — how unit noise and model timesteps are derived from σ:
//   "a1111"     x_T = σ₀·noise; the model sees the fractional timestep of σ (log-σ interpolation, k-diffusion
//               CompVisDenoiser without quantisation, A1111's default).
//   "comfyui"   x_T = √(1 + σ₀²)·noise when σ₀ ≥ σ_max (full denoise), else σ₀·noise; the model sees the
//               nearest integer timestep (ComfyUI ModelSamplingDiscrete.timestep).
//   "diffusers" for euler / euler_a / dpm++2m / ddim with scheduler normal or karras (and the explicit
//               spacings linspace / leading / trailing under any convention): the schedule, timesteps and
//               initial scale of diffusers' EulerDiscrete / EulerAncestralDiscrete / DPMSolverMultistep
//               (dpmsolver++, order 2) / DDIM schedulers with the model's SchedulerConfig (schedule.h);
//               DDIM ends at ᾱ_prev = ᾱ₀ unless set_alpha_to_one and returns VP latents, as diffusers does.
//               Other samplers/schedulers under "diffusers" behave as "a1111".
// The model input is always x·c_in, c_in = 1/√(σ² + 1) (= diffusers' scale_model_input / VP latents);
// ε-prediction: x̂₀ = x − σ·out; v-prediction: x̂₀ = x/(σ² + 1) − out·σ/√(σ² + 1).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "models/sd1/config.h"
#include "runtime/tensor.h"
#include "sampling/k_samplers.h"
#include "sampling/schedule.h"
#include "sampling/sigma_schedules.h"

namespace ls::sampling {

/// Which sampler, which schedule, how many steps, in which convention.
struct SamplerSpec {
  std::string sampler = "euler";     ///< see sampler_names()
  std::string scheduler = "normal";  ///< see scheduler_names()
  int steps = 20;                    ///< sampler steps (1 ≤ steps ≤ 10000; ≤ num_train_timesteps for diffusers spacings)
  float eta = 0.0f;                  ///< DDIM η (0 = deterministic)
  float ancestral_eta = 1.0f;        ///< η of euler_a, dpm2_a, dpm++2s_a, dpm++2m_sde, dpm++3m_sde
  float s_noise = 1.0f;              ///< noise multiplier of the stochastic samplers
  std::string convention = "a1111";  ///< "a1111", "comfyui" or "diffusers" (see the file comment)
  float denoise = 1.0f;              ///< img2img strength in [0, 1]: A1111's t_enc = ⌊min(denoise, 0.999)·steps⌋ rule
  bool zero_terminal_snr = false;    ///< rescale the model's σ table to zero terminal SNR (use with v-prediction)
};

/// The model: (model_input [N, C, H, W] F32 = x·c_in, timestep) → model output (ε or v, CFG already applied).
using DenoiseFn = std::function<Tensor(const Tensor& model_input, float timestep)>;
/// Unit Gaussian noise of `shape` for the `draw`-th noise injection (0-based).
using NoiseFn = std::function<Tensor(const Shape& shape, int draw)>;
/// Progress: called after step `step` (0-based) of `total` with the latents after that step.
using StepFn = std::function<void(int step, int total, const Tensor& latents)>;

/// Valid sampler names, in documentation order (k_sampler_names() plus the alias "uni_pc_bh2").
const std::vector<std::string>& sampler_names();
/// Valid scheduler names (sigma_schedule_names() plus "linspace", "leading", "trailing").
const std::vector<std::string>& scheduler_names();

/// What a sample() call will walk.
struct SamplingPlan {
  std::vector<float> sigmas;     ///< σ list walked by the sampler (≥ 2 values unless denoise = 0: empty)
  std::vector<float> timesteps;  ///< explicit model timestep per σ (diffusers schedules), else empty
  float init_noise_scale = 1.0f; ///< starting x = init_latents + noise·this
  bool vp_output = false;        ///< result divided by √(1 + σ_last²) (diffusers DDIM ending at σ > 0)
  bool nearest_timestep = false; ///< ComfyUI: model timestep = nearest table index
  ModelSampling table;           ///< the model's σ table (for σ → timestep)
  /// The model timestep for σ: the explicit one when σ is the i-th schedule value, else from the table.
  float timestep_for(float sigma) const;
};

/// Build the plan. Throws ls::Error for an unknown sampler / scheduler / convention (listing the valid
/// names), steps out of range, denoise outside [0, 1], non-finite η, or a bad SchedulerConfig.
SamplingPlan make_plan(const SamplerSpec& spec, const sd::SchedulerConfig& cfg);

/// Schedule summary for front ends (timesteps of the σ values, σ list, initial noise scale), from make_plan.
Schedule make_schedule(const SamplerSpec& spec, const sd::SchedulerConfig& cfg);

/// img2img / inpainting inputs of sample(). Shapes: init_latents [N, C, h, w] (already scaled by the VAE
/// scaling factor); mask [N or 1, 1, h, w] with 1 = repaint, 0 = keep (values in between blend).
struct LatentInputs {
  Tensor init_latents;  ///< undefined = txt2img (zeros)
  Tensor mask;          ///< undefined = no latent-mask blending
};

/// Run the sampler: x starts at init_latents + initial_noise·plan.init_noise_scale; the model is called
/// through `denoise`; with a mask, ComfyUI's KSamplerX0Inpaint blending is applied around every model call
/// (x ← x·m + (init + σ·noise)·(1 − m), x̂₀ ← x̂₀·m + init·(1 − m)) and the result is blended once more at
/// the end (A1111), so the kept region equals init_latents exactly. denoise = 0 returns init_latents.
/// Throws ls::Error for the errors of make_plan, an undefined / non-F32 initial_noise, latent inputs whose
/// shapes do not fit, a missing NoiseFn when the sampler needs one, or a model / noise output of the wrong shape.
Tensor sample(const SamplerSpec& spec, const sd::SchedulerConfig& cfg, const Tensor& initial_noise,
              const DenoiseFn& denoise, const NoiseFn& noise = {}, const StepFn& on_step = {},
              const LatentInputs& latents = {});

}  // namespace ls::sampling
