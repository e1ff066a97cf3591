// Every sampler × schedule against references computed with the reference libraries
// (tests/sampling/data/samplers_ref.safetensors).
//
// How the data was made (issue 6, one run on the device with torch 2.11, fp32 CPU): the script imports
// k-diffusion's sampling.py (crowsonkb/k-diffusion HEAD, torchsde stubbed: no Brownian tree is used) and
// reference copies of ComfyUI's scheduler functions (comfy/samplers.py: normal_scheduler, simple_scheduler,
// ddim_scheduler, beta_scheduler with scipy.stats.beta.ppf, plus k-diffusion get_sigmas_karras /
// get_sigmas_exponential), ComfyUI's ModelSamplingDiscrete σ table (float64 β/ᾱ, stored float32; also the
// zero-terminal-SNR table), sample_lcm, and comfy/extra_samplers/uni_pc.py (σ-space UniPC, bh1 and bh2).
// Inputs: torch.Generator().manual_seed(20240601) drew x_T [1,4,8,8], μ = 0.5·randn [1,4,8,8] and a bank of
// 64 noise tensors [64,1,4,8,8]. The model is the pure function D(x, σ) = μ + (x − μ)·0.25/(σ² + 0.25)
// (the optimal denoiser of N(μ, 0.5²) data), so the references do not depend on model numerics.
// Per sampler s and scheduler k, 10 steps (11 then the second-to-last σ dropped for dpm2, dpm2_a, uni_pc,
// uni_pc_bh1, as ComfyUI's KSampler does): `s.k.sigmas`, `s.k.final` = sampler(D, x_T·σ₀, sigmas) with the
// noise sampler returning the bank tensors in order, `s.k.draws` = how many it took. "ddim" is ComfyUI's
// (sample_euler); "uni_pc" is bh2, "uni_pc_bh1" is ComfyUI's "uni_pc". Also `sched.k.N` for N in
// {1, 2, 3, 7, 10, 20, 30} steps, `ms_sigmas`, `ms_log_sigmas`, `zsnr_sigmas`.
//
// Tolerances: σ lists max relative error 2e-6 (torch's vectorised exp/log/pow vs libm); final latents
// max |Δ| ≤ 2e-5·max(1, max|ref|) (scalar coefficients in double instead of torch's float32 0-d tensors;
// the observed errors are printed).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "io/safetensors.h"
#include "sampling/elementwise.h"
#include "sampling/k_samplers.h"
#include "sampling/sigma_schedules.h"

using namespace ls;
using namespace ls::sampling;

namespace {

const io::TensorFile& ref() {
  static io::TensorFile f =
      io::read_safetensors(std::string(LS_SOURCE_DIR) + "/tests/sampling/data/samplers_ref.safetensors");
  return f;
}

std::vector<float> vec(const Tensor& t) {
  Tensor f = t.to(DType::F32);
  return {f.f32().begin(), f.f32().end()};
}

double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(double(a[i]) - b[i]) / std::max(1e-30, std::fabs(double(b[i]))));
  return m;
}

const std::vector<std::string> kSchedules{"normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform",
                                          "beta"};

TEST(ModelSamplingTable, MatchesComfyUI) {
  sd::SchedulerConfig cfg;
  ModelSampling ms = model_sampling(cfg);
  EXPECT_LE(max_rel(ms.sigmas, vec(ref().get("ms_sigmas"))), 1e-7);
  EXPECT_LE(max_rel(ms.log_sigmas, vec(ref().get("ms_log_sigmas"))), 1e-6);
  ModelSampling z = model_sampling(cfg, true);
  EXPECT_LE(max_rel(z.sigmas, vec(ref().get("zsnr_sigmas"))), 1e-6);
  EXPECT_NEAR(z.sigma_max(), 4518.0, 1.0);
}

TEST(SigmaSchedules, EveryNameAndStepCount) {
  sd::SchedulerConfig cfg;
  ModelSampling ms = model_sampling(cfg);
  double worst = 0;
  for (const auto& k : kSchedules)
    for (int n : {1, 2, 3, 7, 10, 20, 30}) {
      auto want = vec(ref().get(fmt::format("sched.{}.{}", k, n)));
      auto got = sigma_schedule(k, ms, n);
      ASSERT_EQ(got.size(), want.size()) << k << " " << n;
      const double e = max_rel(got, want);
      worst = std::max(worst, e);
      EXPECT_LE(e, 2e-6) << k << " " << n;
    }
  std::printf("sigma schedules: worst relative error %.2e\n", worst);
}

TEST(SigmaSchedules, BadInput) {
  ModelSampling ms = model_sampling(sd::SchedulerConfig{});
  EXPECT_THROW(sigma_schedule("nope", ms, 10), Error);
  EXPECT_THROW(sigma_schedule("karras", ms, 0), Error);
  EXPECT_NEAR(beta_ppf(0.5, 0.6, 0.6), 0.5, 1e-12);
  EXPECT_NEAR(incomplete_beta(beta_ppf(0.123, 0.6, 0.6), 0.6, 0.6), 0.123, 1e-12);
}

class SamplerRef : public ::testing::TestWithParam<std::string> {};

TEST_P(SamplerRef, EveryScheduleMatchesReference) {
  const std::string name = GetParam();
  const Tensor mu = ref().get("mu").to(DType::F32);
  const Tensor xT = ref().get("x_T").to(DType::F32);
  const Tensor bank = ref().get("noise_bank").to(DType::F32);
  sd::SchedulerConfig cfg;
  ModelSampling ms = model_sampling(cfg);
  for (const auto& k : kSchedules) {
    const std::string key = name + "." + k;
    const std::vector<float> sig = vec(ref().get(key + ".sigmas"));
    // our schedule gives the same σ list (including the dropped penultimate σ)
    std::vector<float> mine = sigma_schedule(k, ms, k_sampler_discards_penultimate_sigma(name) ? 11 : 10);
    if (k_sampler_discards_penultimate_sigma(name)) mine.erase(mine.end() - 2);
    EXPECT_LE(max_rel(mine, sig), 2e-6) << key;

    Denoiser D = [&](const Tensor& x, float sigma) {
      const float c = 0.25f / (sigma * sigma + 0.25f);
      return map2(x, mu, [c](float v, float m) { return m + (v - m) * c; });
    };
    int draws = 0;
    StepNoise noise = [&](float, float) {
      EXPECT_LT(draws, 64);
      return bank.narrow0(std::min(draws++, 63), 1).reshape({1, 4, 8, 8}).clone();
    };
    const float s0 = sig[0];
    Tensor x = map1(xT, [s0](float v) { return v * s0; });
    KOptions opt;
    if (name == "ddim") opt.eta = 0.0f;  // ComfyUI's ddim (deterministic)
    Tensor got = k_sample(name, D, x, sig, noise, opt);
    const std::vector<float> want = vec(ref().get(key + ".final"));
    double m = 1.0, d = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
      m = std::max(m, std::fabs(double(want[i])));
      d = std::max(d, std::fabs(double(got.f32()[i]) - want[i]));
    }
    EXPECT_LE(d, 2e-5 * m) << key << ": max|Δ| " << d << " vs max|ref| " << m;
    EXPECT_EQ(draws, static_cast<int>(ref().get(key + ".draws").to(DType::F32).f32()[0])) << key;
    std::printf("%-12s %-13s max|Δ| %.2e (max|ref| %.2f), %d noise draws\n", name.c_str(), k.c_str(), d, m, draws);
  }
}

INSTANTIATE_TEST_SUITE_P(All, SamplerRef, ::testing::ValuesIn(k_sampler_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n;
                           for (char c : p.param) n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

TEST(KSample, BadInputThrows) {
  Denoiser D = [](const Tensor& x, float) { return x; };
  Tensor x = Tensor::zeros({1, 4, 2, 2});
  EXPECT_THROW(k_sample("nope", D, x, {1.0f, 0.0f}), Error);
  EXPECT_THROW(k_sample("euler", D, x, {1.0f}), Error);
  EXPECT_THROW(k_sample("euler_a", D, x, {1.0f, 0.5f, 0.0f}), Error);  // needs noise
  EXPECT_THROW(k_sample("euler", D, x, {1.0f, NAN}), Error);
  Denoiser bad = [](const Tensor&, float) { return Tensor::zeros({1, 4, 3, 3}); };
  EXPECT_THROW(k_sample("heun", bad, x, {1.0f, 0.0f}), Error);
  EXPECT_THROW(k_sample("uni_pc", D, x, {1.0f, 0.0f}), Error);  // one step
}

}  // namespace
