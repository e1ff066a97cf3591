// "ddim": DDIMScheduler (diffusers 0.40; Song et al. 2021, "Denoising Diffusion Implicit Models", eq. 12).
// ᾱ_prev = ᾱ[t − N/steps] (or the final ᾱ: 1 with set_alpha_to_one, else ᾱ[0]); x̂₀ and ε̂ from the model
// output; σ_t = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev)); x ← √ᾱ_prev·x̂₀ + √(1−ᾱ_prev−σ_t²)·ε̂ + σ_t·z.
// The model sees x unscaled and the integer timestep.
#include <algorithm>
#include <cmath>

#include "sampling/steppers.h"

namespace ls::sampling {
namespace {

class Ddim final : public Stepper {
 public:
  Ddim(const Schedule& s, const TrainingSchedule& train, const sd::SchedulerConfig& cfg, Prediction p, float eta)
      : s_(s), ac_(train.alphas_cumprod), p_(p), eta_(eta) {
    final_ac_ = cfg.set_alpha_to_one ? 1.0f : ac_[0];
    stride_ = cfg.num_train_timesteps / static_cast<int>(s.timesteps.size());
  }

  Tensor model_input(const Tensor& x, int) const override { return x; }

  Tensor step(const Tensor& x, const Tensor& out, int i, const NoiseFn& noise) override {
    const int t = static_cast<int>(s_.timesteps[i]);
    const int prev_t = t - stride_;
    const float a_t = ac_[t];
    const float a_prev = prev_t >= 0 ? ac_[prev_t] : final_ac_;
    const float b_t = 1.0f - a_t;
    const float sqrt_a = std::sqrt(a_t), sqrt_b = std::sqrt(b_t);
    Tensor x0, eps;
    if (p_ == Prediction::Epsilon) {
      x0 = map2(x, out, [sqrt_a, sqrt_b](float v, float e) { return (v - sqrt_b * e) / sqrt_a; });
      eps = out;
    } else {
      x0 = map2(x, out, [sqrt_a, sqrt_b](float v, float m) { return sqrt_a * v - sqrt_b * m; });
      eps = map2(x, out, [sqrt_a, sqrt_b](float v, float m) { return sqrt_a * m + sqrt_b * v; });
    }
    const float b_prev = 1.0f - a_prev;
    const float variance = (b_prev / b_t) * (1.0f - a_t / a_prev);
    const float std_dev = eta_ * std::sqrt(variance);
    const float dir = std::sqrt(std::max(0.0f, (1.0f - a_prev) - std_dev * std_dev));
    const float sqrt_a_prev = std::sqrt(a_prev);
    Tensor prev = map2(x0, eps, [sqrt_a_prev, dir](float d0, float e) { return sqrt_a_prev * d0 + dir * e; });
    if (eta_ > 0.0f) {
      Tensor z = draw_noise(noise, x, i, "ddim");
      prev = map2(prev, z, [std_dev](float v, float n) { return v + std_dev * n; });
    }
    return prev;
  }

 private:
  Schedule s_;
  std::vector<float> ac_;
  Prediction p_;
  float eta_;
  float final_ac_ = 1.0f;
  int stride_ = 1;
};

}  // namespace

std::unique_ptr<Stepper> make_ddim(const Schedule& s, const TrainingSchedule& train, const sd::SchedulerConfig& cfg,
                                   Prediction p, float eta) {
  return std::make_unique<Ddim>(s, train, cfg, p, eta);
}

}  // namespace ls::sampling
