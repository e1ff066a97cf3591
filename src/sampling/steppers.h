// Internal to the sampling module: one Stepper per sampler, driven by sample() in sampler.cpp.
// Element-wise math runs as plain float32 loops over the (small) latents, in the operation order of the
// reference scheduler so results match it to float32 rounding.
#pragma once

#include <memory>
#include <span>

#include "models/sd1/config.h"
#include "runtime/tensor.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace ls::sampling {

/// How the model output is to be read.
enum class Prediction { Epsilon, V };

/// One sampler's step rule over a fixed schedule.
class Stepper {
 public:
  virtual ~Stepper() = default;
  /// The model input for step i from the current latents x (diffusers scale_model_input).
  virtual Tensor model_input(const Tensor& x, int i) const = 0;
  /// Latents after step i, from x and the (CFG-combined) model output. `noise` supplies noise when the
  /// sampler needs it (may be empty otherwise).
  virtual Tensor step(const Tensor& x, const Tensor& model_output, int i, const NoiseFn& noise) = 0;
};

std::unique_ptr<Stepper> make_euler(const Schedule& s, Prediction p);
std::unique_ptr<Stepper> make_euler_ancestral(const Schedule& s, Prediction p);
std::unique_ptr<Stepper> make_dpmpp_2m(const Schedule& s, Prediction p);
std::unique_ptr<Stepper> make_ddim(const Schedule& s, const TrainingSchedule& train, const sd::SchedulerConfig& cfg,
                                   Prediction p, float eta);

/// x̂₀ for the σ-space samplers (euler.cpp): ε → x − σ·ε; v → v·(−σ/√(σ²+1)) + x/(σ²+1).
Tensor denoised(const Tensor& x, const Tensor& model_output, float sigma, Prediction p);

/// out[i] = f(a[i], b[i]) over two F32 tensors of one shape (checked by the caller).
template <typename F>
Tensor map2(const Tensor& a, const Tensor& b, F f) {
  Tensor out = Tensor::empty(a.shape());
  std::span<const float> pa = a.f32(), pb = b.f32();
  std::span<float> po = out.f32();
  for (size_t k = 0; k < po.size(); ++k) po[k] = f(pa[k], pb[k]);
  return out;
}

/// out[i] = f(a[i], b[i], c[i]) over three F32 tensors of one shape.
template <typename F>
Tensor map3(const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  Tensor out = Tensor::empty(a.shape());
  std::span<const float> pa = a.f32(), pb = b.f32(), pc = c.f32();
  std::span<float> po = out.f32();
  for (size_t k = 0; k < po.size(); ++k) po[k] = f(pa[k], pb[k], pc[k]);
  return out;
}

/// Noise of x's shape for step i from `noise`, validated (defined, F32, same shape). Throws ls::Error.
Tensor draw_noise(const NoiseFn& noise, const Tensor& x, int i, const char* sampler);

}  // namespace ls::sampling
