// σ schedules as A1111 and ComfyUI build them from a model's discrete noise table.
//
// The table (ComfyUI comfy/model_sampling.py ModelSamplingDiscrete; A1111/k-diffusion DiscreteSchedule):
// β from the SchedulerConfig in float64 (scaled_linear: linspace(√β₀, √β₁, N)²), ᾱ = cumprod(1 − β) in float64,
// σ_t = √((1 − ᾱ_t)/ᾱ_t), stored as float32 together with log σ_t (log taken in float64).
// Optional zero-terminal-SNR rescale (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
// Flawed", alg. 1, applied to √ᾱ, with the last ᾱ set to 4.8973451890853435e-08 as A1111 and ComfyUI do so
// that σ_max stays finite, ≈ 4518).
//
// Schedulers (ComfyUI comfy/samplers.py and k-diffusion sampling.py, read as reference); each returns
// `steps` + 1 decreasing σ values ending in 0 (ddim_uniform and beta may return a different count, as the
// reference does: ddim_uniform takes every ⌊N/steps⌋-th σ from t = 1, beta drops repeated timesteps):
//   normal        σ(t) at t = linspace(t(σ_max), t(σ_min), steps), log-σ interpolation (= A1111's default
//                 k-diffusion get_sigmas); "discrete" is an alias
//   karras        Karras et al. 2022 eq. 5, ρ = 7, between σ_min and σ_max of the table
//   exponential   exp(linspace(log σ_max, log σ_min, steps))
//   sgm_uniform   normal over steps + 1 points without the last
//   simple        σ[N − 1 − ⌊i·N/steps⌋]
//   ddim_uniform  σ[1 + k·⌊N/steps⌋], reversed
//   beta          σ[rint(BetaPPF(1 − i/steps; 0.6, 0.6)·(N − 1))] (Lee et al. 2024, arXiv:2407.12173)
#pragma once

#include <string>
#include <vector>

#include "models/sd1/config.h"

namespace ls::sampling {

/// A model's discrete σ table with the conversions samplers need.
struct ModelSampling {
  std::vector<float> sigmas;      ///< [N] σ_t, increasing in t (F32)
  std::vector<float> log_sigmas;  ///< [N] log σ_t (F32, from the float64 σ)

  float sigma_min() const { return sigmas.front(); }
  float sigma_max() const { return sigmas.back(); }
  /// Fractional timestep of σ: log-σ interpolation between the neighbouring table entries (k-diffusion
  /// DiscreteSchedule.sigma_to_t, A1111's model timestep), clamped to [0, N − 1].
  float timestep(float sigma) const;
  /// Index of the table entry nearest to σ in log space (ComfyUI ModelSamplingDiscrete.timestep).
  int timestep_nearest(float sigma) const;
  /// σ at fractional timestep t: exp of the linear interpolation of log σ (ComfyUI .sigma(), k-diffusion t_to_sigma).
  float sigma(float t) const;
};

/// Build the table. Throws ls::Error for an unknown beta_schedule (valid: scaled_linear, linear), fewer than
/// 2 timesteps, or betas outside (0, 1).
ModelSampling model_sampling(const sd::SchedulerConfig& cfg, bool zero_terminal_snr = false);

/// The scheduler names sigma_schedule accepts.
const std::vector<std::string>& sigma_schedule_names();

/// σ list of scheduler `name` for `steps` steps (see the file comment). Throws ls::Error for an unknown
/// name or steps < 1.
std::vector<float> sigma_schedule(const std::string& name, const ModelSampling& ms, int steps);

/// Regularised incomplete beta function I_x(a, b) (continued fraction, Numerical-Recipes style Lentz
/// evaluation), and its inverse in x by bisection to double precision; a, b > 0, x / p in [0, 1].
double incomplete_beta(double x, double a, double b);
double beta_ppf(double p, double a, double b);

}  // namespace ls::sampling
