// The denoising training objective of latent diffusion (Ho et al. 2020, eq. 14; Rombach et al. 2022):
// x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε with t ~ U{t_min … t_max−1}; the UNet predicts ε (epsilon) or
// v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀ (v_prediction, Salimans & Ho 2022); loss = mean squared error, optionally
// weighted per sample by Min-SNR-γ (Hang et al. 2023: min(SNR, γ)/SNR for ε, min(SNR, γ)/(SNR+1) for v,
// SNR = ᾱ/(1−ᾱ)), with the noise offset of Guttenberg 2023 (ε += offset·N(0, 1) per sample and channel),
// as kohya sd-scripts train_network.py computes them.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/tensor.h"
#include "sampling/schedule.h"

namespace ls::train {

struct NoiseOptions {
  bool v_prediction = false;
  float noise_offset = 0.0f;   ///< --noise_offset
  float min_snr_gamma = 0.0f;  ///< --min_snr_gamma (0 = off)
  int min_timestep = 0;        ///< --min_timestep
  int max_timestep = 1000;     ///< --max_timestep (exclusive)
};

/// One noised batch: the UNet's input, its target and the per-sample loss weights.
struct NoisedBatch {
  Tensor noisy;      ///< x_t [N, C, h, w] F32 (CPU)
  Tensor target;     ///< ε or v, same shape
  Tensor timesteps;  ///< [N] F32 integral timesteps
  Tensor weights;    ///< [N] F32 loss weight per sample (1 without Min-SNR)
};

/// Noise `x0` [N, C, h, w] (F32, CPU) for one step. Noise, offsets and timesteps are a pure function of
/// (seed, step), so an interrupted run resumes with the same draws. Throws ls::Error on an empty timestep range.
NoisedBatch noise_batch(const Tensor& x0, const sampling::TrainingSchedule& schedule, const NoiseOptions& options,
                        uint64_t seed, int64_t step);

/// Σ_i w_i·mean((pred_i − target_i)²) / N: a [1] tensor recorded on the tape (pred on any device / dtype;
/// target and weights are moved to pred's device). Throws ls::Error on mismatched shapes.
Tensor diffusion_loss(const Tensor& pred, const NoisedBatch& batch);

}  // namespace ls::train
