// "dpm++2m": DPMSolverMultistepScheduler (diffusers 0.40) with algorithm_type "dpmsolver++",
// solver_order 2, solver_type "midpoint", lower_order_final, final_sigmas_type "zero". Lu et al. 2022,
// "DPM-Solver++", algorithm 2 (multistep 2M) on VP latents: α = 1/√(σ²+1), σ_vp = σ·α, λ = log α − log σ_vp,
// h = λ_next − λ; first order: x ← (σ_vp,next/σ_vp)·x − α_next(e^{−h} − 1)·x̂₀; second order adds
// −½·α_next(e^{−h} − 1)·(x̂₀ − x̂₀,prev)/r, r = h_prev/h. The first step and the last step (to σ = 0, which
// returns x̂₀) are first order. The model sees x unscaled.
#include <cmath>

#include "sampling/steppers.h"

namespace ls::sampling {
namespace {

struct VP {
  float alpha, sigma, lambda;
};

VP vp(float sigma) {
  VP v;
  v.alpha = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  v.sigma = sigma * v.alpha;
  v.lambda = std::log(v.alpha) - std::log(v.sigma);
  return v;
}

class DpmPP2M final : public Stepper {
 public:
  DpmPP2M(const Schedule& s, Prediction p) : s_(s), p_(p) {}

  Tensor model_input(const Tensor& x, int) const override { return x; }

  Tensor step(const Tensor& x, const Tensor& out, int i, const NoiseFn&) override {
    const int n = static_cast<int>(s_.timesteps.size());
    const VP cur = vp(s_.sigmas[i]);
    Tensor x0 = p_ == Prediction::Epsilon
                    ? map2(x, out, [cur](float v, float e) { return (v - cur.sigma * e) / cur.alpha; })
                    : map2(x, out, [cur](float v, float m) { return cur.alpha * v - cur.sigma * m; });
    Tensor prev_x0 = last_x0_;
    last_x0_ = x0;
    const float next_sigma = s_.sigmas[i + 1];
    if (next_sigma == 0.0f) return x0;  // final step to σ = 0: the first-order update reduces to x̂₀
    const VP nxt = vp(next_sigma);
    const float h = nxt.lambda - cur.lambda;
    const float ratio = nxt.sigma / cur.sigma;
    const float c0 = nxt.alpha * (std::exp(-h) - 1.0f);
    const VP prv = vp(s_.sigmas[i > 0 ? i - 1 : i]);
    const float h0 = cur.lambda - prv.lambda;
    // first order on the first and last step; also where a repeated σ (duplicate rounded timesteps at
    // large step counts) makes h or h_prev zero and the second-order ratio undefined
    const bool first_order = i == 0 || i == n - 1 || !prev_x0.defined() || h == 0.0f || h0 == 0.0f;
    if (first_order) return map2(x, x0, [ratio, c0](float v, float d0) { return ratio * v - c0 * d0; });
    const float r0 = h0 / h;
    const float inv_r0 = 1.0f / r0;
    const float c1 = 0.5f * c0;
    return map3(x, x0, prev_x0, [ratio, c0, c1, inv_r0](float v, float m0, float m1) {
      const float d1 = inv_r0 * (m0 - m1);
      const float a = ratio * v - c0 * m0;
      return a - c1 * d1;
    });
  }

 private:
  Schedule s_;
  Prediction p_;
  Tensor last_x0_;
};

}  // namespace

std::unique_ptr<Stepper> make_dpmpp_2m(const Schedule& s, Prediction p) { return std::make_unique<DpmPP2M>(s, p); }

}  // namespace ls::sampling
