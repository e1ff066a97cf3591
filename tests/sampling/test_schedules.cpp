// The diffusers-convention schedules beyond the refsuite settings (values worked out from diffusers 0.40's
// set_timesteps), error handling, and every sampler with an oracle denoiser (ε or v computed from a known x₀)
// landing on x₀.
#include "../common/error_of.h"
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sampling/sampler.h"

using ls::testing::error_of;

using namespace ls;
using namespace ls::sampling;

namespace {

SamplerSpec diffusers(const char* sampler, const char* scheduler, int steps) {
  SamplerSpec s{sampler, scheduler, steps, 0.0f};
  s.convention = "diffusers";
  return s;
}

std::vector<float> ts_of(const char* sampler, const char* scheduler, int steps) {
  return make_schedule(diffusers(sampler, scheduler, steps), sd::SchedulerConfig{}).timesteps;
}


TEST(Schedules, Spacings) {
  const std::vector<float> leading{876, 751, 626, 501, 376, 251, 126, 1};
  const std::vector<float> trailing{999, 874, 749, 624, 499, 374, 249, 124};
  EXPECT_EQ(ts_of("ddim", "normal", 8), leading);
  EXPECT_EQ(ts_of("ddim", "leading", 8), leading);
  EXPECT_EQ(ts_of("ddim", "trailing", 8), trailing);
  EXPECT_EQ(ts_of("ddim", "linspace", 4), (std::vector<float>{999, 666, 333, 0}));
  EXPECT_EQ(ts_of("euler", "leading", 8), leading);
  EXPECT_EQ(ts_of("euler", "trailing", 8), trailing);
  EXPECT_EQ(ts_of("euler", "linspace", 4), (std::vector<float>{999, 666, 333, 0}));
  // DPM-Solver linspace: round(linspace(0, 999, steps + 1)) reversed, the final 0 dropped (499.5 → 500)
  EXPECT_EQ(ts_of("dpm++2m", "normal", 8), (std::vector<float>{999, 874, 749, 624, 500, 375, 250, 125}));
  EXPECT_EQ(ts_of("dpm++2m", "leading", 8), (std::vector<float>{889, 778, 667, 556, 445, 334, 223, 112}));
}

TEST(Schedules, TrainingAndInitSigma) {
  sd::SchedulerConfig cfg;
  TrainingSchedule t = training_schedule(cfg);
  ASSERT_EQ(t.sigmas.size(), 1000u);
  EXPECT_NEAR(t.sigmas.back(), 14.6146, 1e-4);
  EXPECT_NEAR(t.sigmas.front(), 0.0291675, 1e-6);
  EXPECT_NEAR(t.betas.front(), 0.00085, 1e-9);
  EXPECT_NEAR(t.betas.back(), 0.012, 1e-8);
  // Euler with leading spacing: init_noise_sigma = √(σ_max² + 1) (diffusers); linspace: σ_max
  Schedule lead = make_schedule(diffusers("euler", "leading", 8), cfg);
  EXPECT_FLOAT_EQ(lead.init_noise_sigma, std::sqrt(lead.sigmas[0] * lead.sigmas[0] + 1.0f));
  EXPECT_FLOAT_EQ(lead.sigmas[0], t.sigmas[876]);
  Schedule lin = make_schedule(diffusers("euler", "normal", 8), cfg);
  EXPECT_FLOAT_EQ(lin.init_noise_sigma, t.sigmas.back());

  cfg.beta_schedule = "linear";
  cfg.beta_start = 0.0001f;
  cfg.beta_end = 0.02f;
  TrainingSchedule l = training_schedule(cfg);
  EXPECT_NEAR(l.betas[500], 0.0001 + (0.02 - 0.0001) * 500 / 999, 1e-9);
}

TEST(Schedules, Karras) {
  sd::SchedulerConfig cfg;
  TrainingSchedule t = training_schedule(cfg);
  for (const char* sampler : {"euler", "euler_a", "dpm++2m"}) {
    Schedule k = make_schedule(diffusers(sampler, "karras", 10), cfg);
    ASSERT_EQ(k.sigmas.size(), 11u);
    EXPECT_FLOAT_EQ(k.sigmas.front(), t.sigmas.back()) << sampler;
    EXPECT_FLOAT_EQ(k.sigmas[9], t.sigmas.front()) << sampler;
    EXPECT_EQ(k.sigmas[10], 0.0f);
    for (int i = 0; i < 9; ++i) EXPECT_GT(k.sigmas[i], k.sigmas[i + 1]) << sampler << " " << i;
    EXPECT_NEAR(k.timesteps.front(), 999.0f, 1e-3) << sampler;
    EXPECT_NEAR(k.timesteps.back(), 0.0f, 1e-3) << sampler;
  }
  // sigma_to_t inverts the training sigmas
  std::vector<float> logs(t.sigmas.size());
  for (size_t i = 0; i < logs.size(); ++i) logs[i] = std::log(t.sigmas[i]);
  EXPECT_NEAR(sigma_to_t(t.sigmas[421], logs), 421.0, 1e-3);
}

TEST(Schedules, BadNames) {
  sd::SchedulerConfig cfg;
  std::string e = error_of([&] { make_schedule(SamplerSpec{"nope", "normal", 8, 0}, cfg); });
  EXPECT_NE(e.find("'nope'"), std::string::npos) << e;
  EXPECT_NE(e.find("euler, euler_a, heun"), std::string::npos) << e;
  e = error_of([&] { make_schedule(SamplerSpec{"euler", "cosine", 8, 0}, cfg); });
  EXPECT_NE(e.find("'cosine'"), std::string::npos) << e;
  EXPECT_NE(e.find("karras"), std::string::npos) << e;
  e = error_of([&] { make_schedule(diffusers("ddim", "karras", 8), cfg); });
  EXPECT_NE(e.find("ddim"), std::string::npos) << e;
  e = error_of([&] { make_schedule(SamplerSpec{"euler", "normal", 0, 0}, cfg); });
  EXPECT_NE(e.find("steps 0"), std::string::npos) << e;
  SamplerSpec conv{"euler", "normal", 8, 0};
  conv.convention = "invokeai";
  e = error_of([&] { make_schedule(conv, cfg); });
  EXPECT_NE(e.find("'invokeai'"), std::string::npos) << e;
  SamplerSpec strength{"euler", "normal", 8, 0};
  strength.denoise = 1.5f;
  e = error_of([&] { make_schedule(strength, cfg); });
  EXPECT_NE(e.find("1.5"), std::string::npos) << e;
  cfg.beta_schedule = "cosine";
  e = error_of([&] { make_schedule(SamplerSpec{"euler", "normal", 8, 0}, cfg); });
  EXPECT_NE(e.find("'cosine'"), std::string::npos) << e;
}

TEST(Schedules, Img2ImgSlicesLikeA1111) {
  sd::SchedulerConfig cfg;
  SamplerSpec full{"euler", "karras", 20, 0};
  SamplerSpec part = full;
  part.denoise = 0.75f;  // t_enc = 15: sigmas[20 - 15 - 1:] = 16 steps
  Schedule f = make_schedule(full, cfg), p = make_schedule(part, cfg);
  ASSERT_EQ(p.sigmas.size(), 17u);
  EXPECT_EQ(p.sigmas.front(), f.sigmas[4]);
  EXPECT_EQ(p.init_noise_sigma, f.sigmas[4]);
  part.denoise = 0.0f;
  EXPECT_TRUE(make_schedule(part, cfg).sigmas.empty());
  // ComfyUI convention: √(1 + σ²) at full denoise, nearest integer timesteps
  SamplerSpec comfy = full;
  comfy.convention = "comfyui";
  Schedule c = make_schedule(comfy, cfg);
  EXPECT_FLOAT_EQ(c.init_noise_sigma, std::sqrt(1.0f + c.sigmas[0] * c.sigmas[0]));
  for (float t : c.timesteps) EXPECT_EQ(t, std::round(t));
  EXPECT_EQ(f.init_noise_sigma, f.sigmas[0]);
}

Tensor pattern(const Shape& shape, float phase, float amp) {
  Tensor t = Tensor::empty(shape);
  for (int64_t k = 0; k < t.numel(); ++k) t.f32()[k] = amp * std::sin(0.37f * k + phase);
  return t;
}

// A denoiser that knows x₀: from the (VP-scaled) model input u = α·x₀ + σ_vp·ε it returns ε or v.
struct Oracle {
  Tensor x0;
  std::function<void(float t, float& alpha, float& sigma_vp)> coeffs;
  bool v = false;
  Tensor operator()(const Tensor& u, float t) const {
    float a, s;
    coeffs(t, a, s);
    Tensor out = Tensor::empty(u.shape());
    for (int64_t k = 0; k < u.numel(); ++k) {
      const double eps = (double(u.f32()[k]) - a * double(x0.f32()[k])) / s;
      out.f32()[k] = float(v ? a * eps - s * double(x0.f32()[k]) : eps);
    }
    return out;
  }
};

TEST(Samplers, OracleDenoiserReachesX0) {
  const Shape shape{1, 4, 8, 8};
  const Tensor x0 = pattern(shape, 0.3f, 0.8f);
  const Tensor noise0 = pattern(shape, 1.1f, 1.0f);
  for (const char* pred : {"epsilon", "v_prediction"}) {
    for (const auto& sampler : sampler_names()) {
      for (const char* sched : {"normal", "karras", "exponential", "beta"}) {
        for (const char* conv : {"a1111", "comfyui", "diffusers"}) {
          sd::SchedulerConfig cfg;
          cfg.prediction_type = pred;
          cfg.set_alpha_to_one = true;  // diffusers DDIM's last step then lands on ᾱ = 1, i.e. on x₀
          SamplerSpec spec{sampler, sched, 12, 0.0f};
          spec.convention = conv;
          if (std::string(conv) == "diffusers" && sampler == "ddim" && std::string(sched) == "karras") continue;
          SamplingPlan plan = make_plan(spec, cfg);
          TrainingSchedule train = training_schedule(cfg);
          const bool legacy_t = std::string(conv) == "diffusers" && !plan.timesteps.empty();
          int calls = 0;
          Oracle o;
          o.x0 = x0;
          o.v = std::string(pred) == "v_prediction";
          o.coeffs = [&](float t, float& a, float& sv) {
            // the σ the sampler asked for, recovered from the timestep the model sees
            const float sigma = legacy_t ? float(sigma_at(train, t)) : plan.table.sigma(t);
            a = 1.0f / std::sqrt(sigma * sigma + 1.0f);
            sv = sigma * a;
            ++calls;
          };
          if (std::string(conv) == "comfyui") continue;  // nearest timesteps: the oracle cannot recover σ exactly
          NoiseFn noise = [&](const Shape& sh, int i) { return pattern(sh, 2.0f + i, 1.0f); };
          Tensor out = sample(spec, cfg, noise0, std::ref(o), noise);
          double err = 0.0;
          for (int64_t k = 0; k < out.numel(); ++k) err = std::max(err, std::fabs(double(out.f32()[k]) - x0.f32()[k]));
          EXPECT_LE(err, 2e-3) << sampler << "/" << sched << "/" << pred << "/" << conv;
          EXPECT_GE(calls, 11);
        }
      }
    }
  }
}

TEST(Samplers, BadCallbacks) {
  sd::SchedulerConfig cfg;
  const Tensor noise0 = pattern({1, 4, 4, 4}, 0.0f, 1.0f);
  DenoiseFn wrong_shape = [](const Tensor&, float) { return Tensor::zeros({1, 4, 4, 5}); };
  std::string e = error_of([&] { sample(SamplerSpec{"euler", "normal", 4, 0}, cfg, noise0, wrong_shape); });
  EXPECT_NE(e.find("[1, 4, 4, 5]"), std::string::npos) << e;
  DenoiseFn ok = [](const Tensor& x, float) { return Tensor::zeros(x.shape()); };
  e = error_of([&] { sample(SamplerSpec{"euler_a", "normal", 4, 0}, cfg, noise0, ok); });
  EXPECT_NE(e.find("noise source"), std::string::npos) << e;
  e = error_of([&] { sample(SamplerSpec{"euler", "normal", 4, 0}, cfg, Tensor(), ok); });
  EXPECT_NE(e.find("initial noise"), std::string::npos) << e;
  cfg.prediction_type = "sample";
  e = error_of([&] { sample(SamplerSpec{"euler", "normal", 4, 0}, cfg, noise0, ok); });
  EXPECT_NE(e.find("'sample'"), std::string::npos) << e;
  // DDIM with eta > 0 draws noise each step
  sd::SchedulerConfig c2;
  int draws = 0;
  NoiseFn count = [&](const Shape& sh, int) {
    ++draws;
    return Tensor::zeros(sh);
  };
  sample(SamplerSpec{"ddim", "normal", 5, 1.0f}, c2, noise0, ok, count);
  EXPECT_EQ(draws, 4);  // no draw on the step to σ = 0
}

}  // namespace
