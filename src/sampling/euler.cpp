// "euler": EulerDiscreteScheduler (diffusers 0.40) with s_churn = 0 — Karras et al. 2022, algorithm 2
// without churn: d = (x − x̂₀)/σ, x ← x + d·(σ_next − σ).
#include <cmath>

#include "sampling/steppers.h"

namespace ls::sampling {
namespace {

class Euler final : public Stepper {
 public:
  Euler(const Schedule& s, Prediction p) : s_(s), p_(p) {}

  Tensor model_input(const Tensor& x, int i) const override {
    const float sigma = s_.sigmas[i];
    const float scale = std::sqrt(sigma * sigma + 1.0f);
    return map2(x, x, [scale](float v, float) { return v / scale; });
  }

  Tensor step(const Tensor& x, const Tensor& out, int i, const NoiseFn&) override {
    const float sigma = s_.sigmas[i];
    const float dt = s_.sigmas[i + 1] - sigma;
    Tensor x0 = denoised(x, out, sigma, p_);
    return map2(x, x0, [sigma, dt](float v, float d0) {
      const float d = (v - d0) / sigma;
      return v + d * dt;
    });
  }

 private:
  Schedule s_;
  Prediction p_;
};

}  // namespace

/// x̂₀ from the model output at noise level σ in the variance-exploding parametrisation:
/// ε: x − σ·ε; v: v·(−σ/√(σ²+1)) + x/(σ²+1) (diffusers Euler / EulerAncestral).
Tensor denoised(const Tensor& x, const Tensor& out, float sigma, Prediction p) {
  if (p == Prediction::Epsilon) return map2(x, out, [sigma](float v, float e) { return v - sigma * e; });
  const float s2p1 = sigma * sigma + 1.0f;
  const float c_out = -sigma / std::sqrt(s2p1);
  return map2(x, out, [c_out, s2p1](float v, float m) { return m * c_out + v / s2p1; });
}

std::unique_ptr<Stepper> make_euler(const Schedule& s, Prediction p) { return std::make_unique<Euler>(s, p); }

}  // namespace ls::sampling
