// Noise schedules: the DDPM training schedule (betas, ᾱ_t, σ_t over the 1000 training timesteps) and the
// inference schedules the samplers walk (which timesteps the model sees, which sigmas the solver uses).
//
// Reference: diffusers 0.40 schedulers (EulerDiscreteScheduler, EulerAncestralDiscreteScheduler,
// DPMSolverMultistepScheduler, DDIMScheduler `set_timesteps`), reproduced to the float32 rounding of the
// refsuite fixtures (reference/txt2img_*.safetensors: `alphas_cumprod`, `timesteps`, `sigmas`,
// `init_noise_sigma`). Karras sigmas: Karras et al. 2022, "Elucidating the Design Space of
// Diffusion-Based Generative Models", eq. 5 with ρ = 7.
#pragma once

#include <string>
#include <vector>

#include "models/sd1/config.h"

namespace ls::sampling {

/// torch.linspace(start, end, n, dtype=torch.float32) as its CPU kernel computes it: a float32 step, the first
/// half counted up from `start`, the second half down from `end`, each value one fused a + b·c (bit-equal to
/// torch for the schedules' uses). n ≤ 0: empty.
std::vector<float> torch_linspace_f32(float start, float end, int n);

/// The DDPM training schedule of a SchedulerConfig, in float32 as diffusers stores it.
/// `scaled_linear`: β = linspace(√β₀, √β₁, N)² (float32 linspace as torch computes it, squared in float32);
/// `linear`: β = linspace(β₀, β₁, N). ᾱ_t = Π(1 − β) accumulated in float64 (torch's CPU cumprod) and
/// stored as float32; σ_t = √((1 − ᾱ_t)/ᾱ_t) in float32.
struct TrainingSchedule {
  std::vector<float> betas;           ///< [N] β_t
  std::vector<float> alphas_cumprod;  ///< [N] ᾱ_t, decreasing
  std::vector<float> sigmas;          ///< [N] σ_t (k-diffusion / EDM noise level), increasing in t
};

/// Build the training schedule. Throws ls::Error for an unknown `beta_schedule` (valid: "scaled_linear",
/// "linear"), num_train_timesteps < 2, or betas outside (0, 1).
TrainingSchedule training_schedule(const sd::SchedulerConfig& cfg);

/// How inference timesteps are spread over the training range (diffusers `timestep_spacing`; table 2 of
/// Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed").
enum class Spacing {
  Linspace,  ///< linspace(0, N−1, steps) reversed (Euler: fractional; DDIM: rounded)
  Leading,   ///< (0, r, 2r, …)·reversed + steps_offset, r = N // steps
  Trailing,  ///< round(N, N − r, …) − 1, r = N / steps
};
/// "linspace" | "leading" | "trailing"
const char* spacing_name(Spacing s);

/// What a sampler walks: step i evaluates the model at `timesteps[i]` on a sample at noise level
/// `sigmas[i]` and moves it to `sigmas[i + 1]`.
struct Schedule {
  std::vector<float> timesteps;  ///< [steps] timestep values passed to the model (fractional for Euler)
  std::vector<float> sigmas;     ///< [steps + 1] σ per step, last 0; empty for DDIM (which works on ᾱ_t)
  float init_noise_sigma = 1.0f; ///< std of the initial latent: initial_latents = unit noise · this
};

/// Karras sigmas: (σ_max^(1/ρ) + i/(n−1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, i = 0..n−1 (float64, decreasing).
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int n, double rho = 7.0);

/// Fractional training timestep of noise level `sigma` by linear interpolation of log σ between the two
/// neighbouring training sigmas (diffusers `_sigma_to_t`; `log_sigmas` = log of TrainingSchedule::sigmas,
/// increasing). Result clamped to [0, N−1].
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas);

/// Linear interpolation of the training sigmas at fractional timestep t (numpy.interp over t = 0..N−1).
double sigma_at(const TrainingSchedule& train, double t);

/// Schedule of EulerDiscreteScheduler / EulerAncestralDiscreteScheduler for `steps` steps: timesteps by
/// `spacing` (float), σ interpolated linearly in t, final σ = 0. With `karras`, σ is replaced by Karras
/// sigmas between the first and last interpolated σ and timesteps come from sigma_to_t (not rounded).
/// init_noise_sigma = σ_max for linspace/trailing spacing, √(σ_max² + 1) for leading (diffusers).
/// Throws ls::Error if steps < 1 or steps > N.
Schedule euler_schedule(const TrainingSchedule& train, const sd::SchedulerConfig& cfg, int steps, Spacing spacing,
                        bool karras);

/// Schedule of DPMSolverMultistepScheduler: integer timesteps (linspace: round(linspace(0, N−1, steps+1))
/// reversed without the final 0; leading/trailing as diffusers), σ at those timesteps, final σ = 0
/// (final_sigmas_type "zero"). With `karras`, Karras sigmas between the training σ_min and σ_max and
/// timesteps = round(sigma_to_t(σ)). init_noise_sigma = 1 (the solver works on VP latents).
Schedule dpm_schedule(const TrainingSchedule& train, const sd::SchedulerConfig& cfg, int steps, Spacing spacing,
                      bool karras);

/// Schedule of DDIMScheduler: integer timesteps (leading: i·(N // steps) + steps_offset; linspace:
/// round(linspace(0, N−1, steps)); trailing), no sigmas, init_noise_sigma = 1.
Schedule ddim_schedule(const TrainingSchedule& train, const sd::SchedulerConfig& cfg, int steps, Spacing spacing);

}  // namespace ls::sampling
