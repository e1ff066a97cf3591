// Finite-difference gradient checking for the autograd tests. The loss is L = Σ y ⊙ w with a fixed random w;
// ∂L/∂x from the tape is compared with central differences (L(x + ε) − L(x − ε)) / 2ε, each L summed in double
// from the op's F32 output. Tolerance: max |analytic − numeric| ≤ tol · max(max |numeric|, 1) per input.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "runtime/autograd.h"
#include "runtime/ops_backward.h"

namespace ls::testing {

inline Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = u(gen);
  return t;
}

inline double weighted_sum(const Tensor& y, const Tensor& w) {
  double acc = 0.0;
  auto a = y.f32();
  auto b = w.f32();
  for (size_t i = 0; i < a.size(); ++i) acc += static_cast<double>(a[i]) * b[i];
  return acc;
}

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

/// Checks ∂(Σ f(inputs)⊙w)/∂inputs[i] for every i with diff[i] (all when diff is empty), at up to
/// `max_points` elements per input (evenly spaced). Returns the worst relative error seen.
inline double check_grad(const std::string& what, const GradFn& f, std::vector<Tensor> inputs,
                         std::vector<bool> diff = {}, double tol = 1e-2, float eps = 1e-2f, int max_points = 48) {
  if (diff.empty()) diff.assign(inputs.size(), true);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (diff[i]) inputs[i].set_requires_grad(true);
  Tensor w;
  std::vector<Tensor> grads(inputs.size());
  {
    autograd::Tape tape;
    Tensor y = f(inputs);
    w = random_tensor(y.shape(), 777);
    Tensor loss = ops::sum_trailing(ops::mul(y, w), y.numel());
    autograd::backward(loss);
    for (size_t i = 0; i < inputs.size(); ++i) grads[i] = autograd::grad(inputs[i]);
  }
  double worst = 0.0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!diff[i]) continue;
    EXPECT_TRUE(grads[i].defined()) << what << ": input " << i << " got no gradient";
    if (!grads[i].defined()) continue;
    EXPECT_EQ(grads[i].shape(), inputs[i].shape()) << what << ": input " << i;
    Tensor x = inputs[i];
    const int64_t n = x.numel();
    const int64_t stride = std::max<int64_t>(1, n / max_points);
    double max_err = 0.0, max_ref = 1.0;
    for (int64_t j = 0; j < n; j += stride) {
      float* p = x.data<float>() + j;
      const float keep = *p;
      *p = keep + eps;
      const double lp = weighted_sum(f(inputs), w);
      *p = keep - eps;
      const double lm = weighted_sum(f(inputs), w);
      *p = keep;
      const double numeric = (lp - lm) / (2.0 * eps);
      const double analytic = grads[i].data<float>()[j];
      max_err = std::max(max_err, std::abs(analytic - numeric));
      max_ref = std::max(max_ref, std::abs(numeric));
    }
    const double rel = max_err / max_ref;
    worst = std::max(worst, rel);
    EXPECT_LE(rel, tol) << what << ": input " << i << " max error " << max_err << " vs max |grad| " << max_ref;
  }
  return worst;
}

}  // namespace ls::testing
