// Sampler and scheduler names, schedule selection and the sampling loop (see sampler.h).
#include "sampling/sampler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sampling/steppers.h"

namespace ls::sampling {
namespace {

enum class Kind { Euler, EulerAncestral, DpmPP2M, Ddim };

Kind parse_sampler(const std::string& name) {
  if (name == "euler") return Kind::Euler;
  if (name == "euler_a") return Kind::EulerAncestral;
  if (name == "dpm++2m") return Kind::DpmPP2M;
  if (name == "ddim") return Kind::Ddim;
  fail("sampler '{}' unknown (valid: {})", name, fmt::join(sampler_names(), ", "));
}

struct ScheduleChoice {
  Spacing spacing;
  bool karras;
};

ScheduleChoice parse_scheduler(const std::string& name, Kind kind, const std::string& sampler) {
  const Spacing normal = kind == Kind::Ddim ? Spacing::Leading : Spacing::Linspace;
  if (name == "normal" || name == "discrete") return {normal, false};
  if (name == "karras") {
    if (kind == Kind::Ddim)
      fail("scheduler 'karras' not supported by sampler '{}' (valid for ddim: normal, discrete, linspace, leading, "
           "trailing)",
           sampler);
    return {Spacing::Linspace, true};
  }
  if (name == "linspace") return {Spacing::Linspace, false};
  if (name == "leading") return {Spacing::Leading, false};
  if (name == "trailing") return {Spacing::Trailing, false};
  fail("scheduler '{}' unknown (valid: {})", name, fmt::join(scheduler_names(), ", "));
}

Prediction parse_prediction(const std::string& p) {
  if (p == "epsilon") return Prediction::Epsilon;
  if (p == "v_prediction") return Prediction::V;
  fail("scheduler config: prediction_type '{}' not supported (valid: epsilon, v_prediction)", p);
}

Schedule schedule_for(Kind kind, const ScheduleChoice& c, const TrainingSchedule& train,
                      const sd::SchedulerConfig& cfg, int steps) {
  switch (kind) {
    case Kind::Euler:
    case Kind::EulerAncestral: return euler_schedule(train, cfg, steps, c.spacing, c.karras);
    case Kind::DpmPP2M: return dpm_schedule(train, cfg, steps, c.spacing, c.karras);
    case Kind::Ddim: return ddim_schedule(train, cfg, steps, c.spacing);
  }
  fail("sampling: internal error (sampler kind)");
}

void check_like(const Tensor& t, const Tensor& x, const char* what, int step) {
  if (!t.defined()) fail("sampling: {} at step {} is undefined", what, step);
  if (t.dtype() != DType::F32 || t.device() != Device::CPU)
    fail("sampling: {} at step {} has dtype {} (need F32 on the CPU)", what, step, dtype_name(t.dtype()));
  if (t.shape() != x.shape())
    fail("sampling: {} at step {} has shape {}, latents are {}", what, step, shape_str(t.shape()),
         shape_str(x.shape()));
}

}  // namespace

Tensor draw_noise(const NoiseFn& noise, const Tensor& x, int i, const char* sampler) {
  if (!noise) fail("sampling: sampler '{}' needs a NoiseFn (none given)", sampler);
  Tensor z = noise(x.shape(), i);
  check_like(z, x, "noise", i);
  return z;
}

const std::vector<std::string>& sampler_names() {
  static const std::vector<std::string> names{"euler", "euler_a", "dpm++2m", "ddim"};
  return names;
}

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names{"normal", "discrete", "karras", "linspace", "leading", "trailing"};
  return names;
}

Schedule make_schedule(const SamplerSpec& spec, const sd::SchedulerConfig& cfg) {
  const Kind kind = parse_sampler(spec.sampler);
  const ScheduleChoice choice = parse_scheduler(spec.scheduler, kind, spec.sampler);
  return schedule_for(kind, choice, training_schedule(cfg), cfg, spec.steps);
}

Tensor sample(const SamplerSpec& spec, const sd::SchedulerConfig& cfg, const Tensor& initial_noise,
              const DenoiseFn& denoise, const NoiseFn& noise, const StepFn& on_step) {
  const Kind kind = parse_sampler(spec.sampler);
  const ScheduleChoice choice = parse_scheduler(spec.scheduler, kind, spec.sampler);
  const Prediction pred = parse_prediction(cfg.prediction_type);
  if (!(spec.eta >= 0.0f)) fail("sampling: eta {} (need ≥ 0)", spec.eta);
  if (!denoise) fail("sampling: no DenoiseFn given");
  if (!initial_noise.defined()) fail("sampling: initial noise is undefined");
  if (initial_noise.dtype() != DType::F32 || initial_noise.device() != Device::CPU)
    fail("sampling: initial noise has dtype {} (need F32 on the CPU)", dtype_name(initial_noise.dtype()));

  const TrainingSchedule train = training_schedule(cfg);
  const Schedule sched = schedule_for(kind, choice, train, cfg, spec.steps);
  std::unique_ptr<Stepper> stepper;
  switch (kind) {
    case Kind::Euler: stepper = make_euler(sched, pred); break;
    case Kind::EulerAncestral: stepper = make_euler_ancestral(sched, pred); break;
    case Kind::DpmPP2M: stepper = make_dpmpp_2m(sched, pred); break;
    case Kind::Ddim: stepper = make_ddim(sched, train, cfg, pred, spec.eta); break;
  }

  const float init = sched.init_noise_sigma;
  Tensor x = map2(initial_noise, initial_noise, [init](float v, float) { return v * init; });
  const int total = static_cast<int>(sched.timesteps.size());
  for (int i = 0; i < total; ++i) {
    Tensor input = stepper->model_input(x, i);
    Tensor out = denoise(input, sched.timesteps[i]);
    check_like(out, x, "model output", i);
    x = stepper->step(x, out, i, noise);
    if (on_step) on_step(i, total, x);
  }
  return x;
}

}  // namespace ls::sampling
