// Samplers in the "diffusers" convention against the refsuite txt2img references (README §4): the schedule each reference used, then the
// full 8-step loop with the UNet replaced by the recorded CFG-combined outputs, so every step is checked
// from the reference's own inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "io/safetensors.h"
#include "sampling/sampler.h"

using namespace ls;
using namespace ls::sampling;

namespace {

struct Case {
  const char* file;       // reference/txt2img_<file>.safetensors
  const char* sampler;
  const char* scheduler;
};

std::string ref_path(const char* name) {
  return std::string(LS_SHARED_DIR) + "/refsuite/reference/txt2img_" + name + ".safetensors";
}

float max_abs(std::span<const float> a) {
  float m = 0.0f;
  for (float v : a) m = std::max(m, std::fabs(v));
  return m;
}

// max |a − b| / max |b|
double rel_err(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::fabs(double(a[i]) - b[i]));
  return d / std::max(1e-30, double(max_abs(b)));
}

void expect_close(float got, float want, double rel, const std::string& what) {
  EXPECT_LE(std::fabs(double(got) - want), rel * std::max(1.0, std::fabs(double(want)))) << what;
}

class Txt2ImgRef : public ::testing::TestWithParam<Case> {};

TEST_P(Txt2ImgRef, ScheduleMatches) {
  const Case c = GetParam();
  io::TensorFile ref = io::read_safetensors(ref_path(c.file));
  sd::SchedulerConfig cfg;  // SD1.5: scaled_linear 0.00085..0.012, 1000 steps, offset 1, epsilon
  SamplerSpec spec{c.sampler, c.scheduler, 8, 0.0f};
  spec.convention = "diffusers";
  Schedule s = make_schedule(spec, cfg);

  auto ts = ref.get("timesteps").to(DType::F32);
  ASSERT_EQ(s.timesteps.size(), size_t(ts.numel()));
  for (size_t i = 0; i < s.timesteps.size(); ++i)
    expect_close(s.timesteps[i], ts.f32()[i], 1e-6, "timestep " + std::to_string(i));
  if (ref.has("sigmas")) {
    auto sg = ref.get("sigmas").to(DType::F32);
    ASSERT_EQ(s.sigmas.size(), size_t(sg.numel()));
    for (size_t i = 0; i < s.sigmas.size(); ++i)
      EXPECT_LE(std::fabs(double(s.sigmas[i]) - sg.f32()[i]), 1e-6 * std::fabs(sg.f32()[i]) + 1e-12)
          << "sigma " << i << ": " << s.sigmas[i] << " vs " << sg.f32()[i];
  }
  // diffusers' VP classes (DPM-Solver, DDIM) start from unit noise in VP space: √(1 + σ₀²) in our VE terms
  const bool vp = std::string(c.sampler) == "dpm++2m" || std::string(c.sampler) == "ddim";
  const float want_init = ref.get("init_noise_sigma").f32()[0] *
                          (vp ? std::sqrt(1.0f + s.sigmas[0] * s.sigmas[0]) : 1.0f);
  expect_close(s.init_noise_sigma, want_init, 1e-6, "init_noise_sigma");

  TrainingSchedule train = training_schedule(cfg);
  auto ac = ref.get("alphas_cumprod").to(DType::F32);
  ASSERT_EQ(train.alphas_cumprod.size(), size_t(ac.numel()));
  int exact = 0;
  for (size_t i = 0; i < train.alphas_cumprod.size(); ++i) {
    EXPECT_LE(std::fabs(double(train.alphas_cumprod[i]) - ac.f32()[i]), 1e-6 * ac.f32()[i]) << i;
    exact += train.alphas_cumprod[i] == ac.f32()[i];
  }
  EXPECT_EQ(exact, 1000) << "alphas_cumprod not bit-identical to diffusers";
}

TEST_P(Txt2ImgRef, EveryStepMatches) {
  const Case c = GetParam();
  io::TensorFile ref = io::read_safetensors(ref_path(c.file));
  sd::SchedulerConfig cfg;
  SamplerSpec spec{c.sampler, c.scheduler, 8, 0.0f};
  spec.convention = "diffusers";
  const Tensor init = ref.get("initial_latents").to(DType::F32);
  auto key = [](int i, const char* what) { return "step" + std::to_string(i) + "." + what; };

  int calls = 0;
  double worst_input = 0.0;
  DenoiseFn denoise = [&](const Tensor& input, float t) -> Tensor {
    const int i = calls++;
    const Tensor want_in = ref.get(key(i, "unet_input")).to(DType::F32);  // [2,4,16,16]: uncond, cond
    EXPECT_EQ(input.numel() * 2, want_in.numel());
    for (int row = 0; row < 2; ++row) {
      const double e = rel_err(input.f32(), want_in.narrow0(row, 1).f32());
      worst_input = std::max(worst_input, e);
      EXPECT_LE(e, 1e-4) << c.file << " step " << i << " model input row " << row;
    }
    EXPECT_EQ(t, ref.get(key(i, "unet_timestep")).to(DType::F32).f32()[0]) << c.file << " step " << i;
    const Tensor out = ref.get(key(i, "unet_output_uncond_cond")).to(DType::F32);
    const Tensor u = out.narrow0(0, 1), co = out.narrow0(1, 1);
    Tensor guided = Tensor::empty(u.shape());
    for (int64_t k = 0; k < guided.numel(); ++k) {
      const float diff = co.f32()[k] - u.f32()[k];
      guided.f32()[k] = u.f32()[k] + 7.5f * diff;
    }
    return guided;
  };
  NoiseFn noise = [&](const Shape& shape, int i) -> Tensor {
    const Tensor z = ref.get(key(i, "ancestral_noise")).to(DType::F32);
    EXPECT_EQ(z.shape(), shape);
    return z;
  };
  std::vector<double> step_err;
  const SamplingPlan plan = make_plan(spec, cfg);
  const bool vp = std::string(c.sampler) == "dpm++2m" || std::string(c.sampler) == "ddim";
  StepFn on_step = [&](int i, int total, const Tensor& latents) {
    EXPECT_EQ(total, 8);
    // our latents are VE (x₀ + σ·ε); diffusers' VP classes record x/√(1 + σ²)
    const float sn = plan.sigmas[i + 1];
    const float f = vp ? std::sqrt(1.0f + sn * sn) : 1.0f;
    Tensor mine = Tensor::empty(latents.shape());
    for (int64_t k = 0; k < mine.numel(); ++k) mine.f32()[k] = latents.f32()[k] / f;
    const double e = rel_err(mine.f32(), ref.get(key(i, "latents_after")).to(DType::F32).f32());
    step_err.push_back(e);
    EXPECT_LE(e, 1e-4) << c.file << " latents after step " << i;
  };

  Tensor final = sample(spec, cfg, init, denoise, noise, on_step);
  EXPECT_EQ(calls, 8);
  ASSERT_EQ(step_err.size(), 8u);
  const double final_err = rel_err(final.f32(), ref.get("final_latents").to(DType::F32).f32());
  EXPECT_LE(final_err, 1e-4) << c.file << " final latents";
  std::string log = fmt::format("{} ({}/{}): model input max rel {:.2e}; latents rel err per step", c.file,
                                c.sampler, c.scheduler, worst_input);
  for (double e : step_err) log += fmt::format(" {:.2e}", e);
  log += fmt::format("; final {:.2e}", final_err);
  std::printf("%s\n", log.c_str());
}

INSTANTIATE_TEST_SUITE_P(Refsuite, Txt2ImgRef,
                         ::testing::Values(Case{"euler", "euler", "normal"}, Case{"euler_a", "euler_a", "normal"},
                                           Case{"dpmpp_2m_karras", "dpm++2m", "karras"},
                                           Case{"ddim", "ddim", "normal"}),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           std::string n = p.param.file;
                           return n;
                         });

}  // namespace
