// The sampler algorithms, k-diffusion style: each walks a decreasing list of noise levels σ_0 > … > σ_n
// (σ_n usually 0) on latents in the variance-exploding parametrisation x = x₀ + σ·ε, calling a denoiser
// D(x, σ) → x̂₀. Nothing here knows about UNets, timesteps, CFG or schedules (see sampler.h for that).
//
// References (read, not copied): k-diffusion sampling.py (Crowson, crowsonkb/k-diffusion), ComfyUI
// comfy/k_diffusion/sampling.py (sample_lcm) and comfy/extra_samplers/uni_pc.py (UniPC in σ space).
//   euler        Karras et al. 2022 alg. 2 without churn                         (sample_euler)
//   euler_a      Euler to σ_down + σ_up·z                                           (sample_euler_ancestral)
//   heun         Karras alg. 2 (2nd order; last step Euler)                          (sample_heun)
//   dpm2         DPM-Solver-2 midpoint in log σ                                     (sample_dpm_2)
//   dpm2_a       the same to σ_down, then + σ_up·z                                  (sample_dpm_2_ancestral)
//   dpm++2s_a    DPM-Solver++(2S) to σ_down, then + σ_up·z                          (sample_dpmpp_2s_ancestral)
//   dpm++2m      DPM-Solver++(2M)                                                   (sample_dpmpp_2m)
//   dpm++2m_sde  DPM-Solver++(2M) SDE, midpoint, η                                   (sample_dpmpp_2m_sde)
//   dpm++3m_sde  DPM-Solver++(3M) SDE, η                                             (sample_dpmpp_3m_sde)
//   lms          linear multistep, order 4, exact integrals of the Lagrange basis  (sample_lms)
//   ddim         DDIM: η = 0 is Euler (ComfyUI's "ddim"); η > 0 is the DDIM σ_t step, which in σ space is
//                euler_a with that η (σ_t/√ᾱ_prev = η·σ_up, √(σ_next² − that²) = σ_down)
//   lcm          x = x̂₀ (+ σ_next·z)                                                (ComfyUI sample_lcm)
//   uni_pc       UniPC multistep, B(h) = e^h − 1 ("bh2", diffusers' and ComfyUI uni_pc_bh2's variant),
//                order min(3, steps − 1), corrector on all but the last step        (ComfyUI uni_pc.py)
//   uni_pc_bh1   the same with B(h) = h (ComfyUI "uni_pc")
//
// Noise: ancestral and SDE samplers call StepNoise once per noise injection with (σ, σ_next); every call
// must return fresh unit Gaussian noise of the latents' shape. This is k-diffusion's default_noise_sampler
// (plain per-step noise), NOT the Brownian-tree noise that A1111/ComfyUI use by default for the SDE samplers
// (dpm++2m_sde, dpm++3m_sde): those runs match A1111/ComfyUI only in distribution, while euler_a, dpm2_a,
// dpm++2s_a, lcm and ddim(η>0) draw exactly what A1111 draws per step (its generator's next randn).
//
// Arithmetic: latents are F32 and every element-wise update is done in F32 in the reference's operation order;
// scalar coefficients are computed in double from the F32 σ values and rounded once.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace ls::sampling {

/// D(x, σ) → x̂₀ for latents x [N, C, H, W] F32 at noise level σ (same shape and dtype out).
using Denoiser = std::function<Tensor(const Tensor& x, float sigma)>;
/// Unit Gaussian noise for the step σ → σ_next (same shape as the latents).
using StepNoise = std::function<Tensor(float sigma, float sigma_next)>;
/// Called after step i of n with the latents after that step.
using KCallback = std::function<void(int i, int n, const Tensor& x)>;

struct KOptions {
  float eta = 1.0f;      ///< ancestral / SDE noise amount (euler_a, dpm2_a, dpm++2s_a, dpm++*_sde); ddim's η
  float s_noise = 1.0f;  ///< noise multiplier
};

/// The sampler names k_sample accepts, in documentation order.
const std::vector<std::string>& k_sampler_names();
/// True for samplers that call StepNoise (with options.eta as given: ddim only when η > 0).
bool k_sampler_needs_noise(const std::string& name, float eta);
/// True for samplers ComfyUI (and A1111 for DPM2) schedule with one extra step whose second-to-last σ is
/// dropped: dpm2, dpm2_a, uni_pc, uni_pc_bh1.
bool k_sampler_discards_penultimate_sigma(const std::string& name);
/// Model evaluations a run of `name` over `steps` steps costs (for progress reporting).
int k_sampler_evaluations(const std::string& name, const std::vector<float>& sigmas);

/// Run sampler `name` from latents `x` (already at σ_0 scale) over `sigmas` (≥ 2 values, decreasing,
/// last ≥ 0). Returns the final latents. Throws ls::Error for an unknown name, fewer than 2 sigmas, an
/// undefined / non-F32 x, a missing StepNoise when one is needed, or a denoiser / noise output whose
/// shape differs from x.
Tensor k_sample(const std::string& name, const Denoiser& denoise, Tensor x, const std::vector<float>& sigmas,
                const StepNoise& noise = {}, const KOptions& options = {}, const KCallback& callback = {});

namespace detail {
/// Validated denoiser call (shape/dtype checked against x).
Tensor call_denoiser(const Denoiser& d, const Tensor& x, float sigma, const char* sampler);
/// Validated noise draw.
Tensor draw(const StepNoise& n, const Tensor& x, float sigma, float sigma_next, const char* sampler);
/// k-diffusion get_ancestral_step: (σ_down, σ_up) for σ → σ_next with η.
void ancestral_step(float sigma, float sigma_next, float eta, float& sigma_down, float& sigma_up);

Tensor sample_dpmpp_2s_a(const Denoiser&, Tensor x, const std::vector<float>&, const StepNoise&, const KOptions&,
                         const KCallback&);
Tensor sample_dpmpp_2m(const Denoiser&, Tensor x, const std::vector<float>&, const KCallback&);
Tensor sample_dpmpp_2m_sde(const Denoiser&, Tensor x, const std::vector<float>&, const StepNoise&, const KOptions&,
                           const KCallback&);
Tensor sample_dpmpp_3m_sde(const Denoiser&, Tensor x, const std::vector<float>&, const StepNoise&, const KOptions&,
                           const KCallback&);
Tensor sample_lms(const Denoiser&, Tensor x, const std::vector<float>&, const KCallback&);
Tensor sample_unipc(const Denoiser&, Tensor x, const std::vector<float>&, bool bh2, const KCallback&);
}  // namespace detail

}  // namespace ls::sampling
