// Noising and the weighted MSE of train/diffusion.h.
#include "train/diffusion.h"

#include <cmath>
#include <random>

#include "runtime/error.h"
#include "runtime/ops.h"
#include "sampling/rng.h"

namespace ls::train {

NoisedBatch noise_batch(const Tensor& x0, const sampling::TrainingSchedule& schedule, const NoiseOptions& o,
                        uint64_t seed, int64_t step) {
  if (x0.ndim() != 4) fail("noise_batch: latents must be [N, C, h, w], got {}", shape_str(x0.shape()));
  const int64_t n = x0.dim(0), c = x0.dim(1), per = x0.numel() / n;
  const int t_hi = std::min<int>(o.max_timestep, static_cast<int>(schedule.alphas_cumprod.size()));
  if (o.min_timestep < 0 || o.min_timestep >= t_hi)
    fail("timestep range [{}, {}) is empty (train schedule has {} steps)", o.min_timestep, o.max_timestep,
         schedule.alphas_cumprod.size());
  // two independent streams per step: torch-CPU-style normal noise, and a 64-bit engine for timesteps
  const uint64_t step_seed = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(step) * 0xD1B54A32D192ED03ULL;
  sampling::NoiseGenerator rng(step_seed);
  Tensor noise = rng.randn(x0.shape());
  if (o.noise_offset != 0.0f) {
    Tensor off = rng.randn({n, c});
    float* e = noise.data<float>();
    const int64_t hw = per / c;
    for (int64_t i = 0; i < n * c; ++i)
      for (int64_t j = 0; j < hw; ++j) e[i * hw + j] += o.noise_offset * off.f32()[i];
  }
  std::mt19937_64 tgen(step_seed ^ 0x5851F42D4C957F2DULL);
  std::uniform_int_distribution<int> tdist(o.min_timestep, t_hi - 1);

  NoisedBatch b;
  b.noisy = Tensor::empty(x0.shape());
  b.target = Tensor::empty(x0.shape());
  b.timesteps = Tensor::empty({n});
  b.weights = Tensor::empty({n});
  const float* x = x0.data<float>();
  const float* e = noise.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int t = tdist(tgen);
    const double ab = schedule.alphas_cumprod[static_cast<size_t>(t)];
    const float sa = static_cast<float>(std::sqrt(ab)), sb = static_cast<float>(std::sqrt(1.0 - ab));
    for (int64_t j = i * per; j < (i + 1) * per; ++j) {
      b.noisy.f32()[j] = sa * x[j] + sb * e[j];
      b.target.f32()[j] = o.v_prediction ? sa * e[j] - sb * x[j] : e[j];
    }
    b.timesteps.f32()[i] = static_cast<float>(t);
    float w = 1.0f;
    if (o.min_snr_gamma > 0.0f) {
      const double snr = ab / (1.0 - ab);
      w = static_cast<float>(std::min(snr, static_cast<double>(o.min_snr_gamma)) / (o.v_prediction ? snr + 1.0 : snr));
    }
    b.weights.f32()[i] = w;
  }
  return b;
}

Tensor diffusion_loss(const Tensor& pred, const NoisedBatch& batch) {
  if (pred.shape() != batch.target.shape())
    fail("diffusion_loss: prediction {} does not match target {}", shape_str(pred.shape()),
         shape_str(batch.target.shape()));
  const int64_t n = pred.dim(0), per = pred.numel() / n;
  const Tensor target = batch.target.to_device(pred.device()).to(pred.dtype());
  const Tensor d = ops::sub(pred, target).to(DType::F32);
  const Tensor per_sample = ops::sum_trailing(ops::mul(d, d), per);  // [N]
  const Tensor w = batch.weights.to_device(pred.device());
  return ops::scale(ops::sum_trailing(ops::mul(per_sample, w), n), 1.0f / static_cast<float>(n * per));
}

}  // namespace ls::train
