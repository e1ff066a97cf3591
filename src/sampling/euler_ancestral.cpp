// "euler_a": EulerAncestralDiscreteScheduler (diffusers 0.40; k-diffusion sample_euler_ancestral, eta 1):
// σ_up = √(σ_next²(σ² − σ_next²)/σ²), σ_down = √(σ_next² − σ_up²); Euler step to σ_down, then add
// σ_up · noise. Noise is drawn at every step, the last one included (as the reference does).
#include <algorithm>
#include <cmath>

#include "sampling/steppers.h"

namespace ls::sampling {
namespace {

class EulerAncestral final : public Stepper {
 public:
  EulerAncestral(const Schedule& s, Prediction p) : s_(s), p_(p) {}

  Tensor model_input(const Tensor& x, int i) const override {
    const float sigma = s_.sigmas[i];
    const float scale = std::sqrt(sigma * sigma + 1.0f);
    return map2(x, x, [scale](float v, float) { return v / scale; });
  }

  Tensor step(const Tensor& x, const Tensor& out, int i, const NoiseFn& noise) override {
    const float sigma = s_.sigmas[i];
    const float from2 = sigma * sigma, to2 = s_.sigmas[i + 1] * s_.sigmas[i + 1];
    const float sigma_up = std::sqrt(std::max(0.0f, to2 * (from2 - to2) / from2));
    const float sigma_down = std::sqrt(std::max(0.0f, to2 - sigma_up * sigma_up));
    const float dt = sigma_down - sigma;
    Tensor x0 = denoised(x, out, sigma, p_);
    Tensor n = draw_noise(noise, x, i, "euler_a");
    return map3(x, x0, n, [sigma, dt, sigma_up](float v, float d0, float z) {
      const float d = (v - d0) / sigma;
      const float moved = v + d * dt;
      return moved + z * sigma_up;
    });
  }

 private:
  Schedule s_;
  Prediction p_;
};

}  // namespace

std::unique_ptr<Stepper> make_euler_ancestral(const Schedule& s, Prediction p) {
  return std::make_unique<EulerAncestral>(s, p);
}

}  // namespace ls::sampling
