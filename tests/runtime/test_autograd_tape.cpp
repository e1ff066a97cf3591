// The tape itself: recording only while a tape is alive, NoGrad, accumulation across backward calls,
// checkpoint() equal to plain recording, errors, casts, and the AdamW step against torch.optim.AdamW's formula.
#include <gtest/gtest.h>

#include <cmath>

#include "../common/error_of.h"
#include "grad_check.h"
#include "runtime/ops_backward.h"

namespace ls {
namespace {

using testing::random_tensor;

Tensor small_net(const Tensor& x, const Tensor& w1, const Tensor& w2) {
  Tensor h = ops::silu(ops::linear(x, w1));
  return ops::linear(ops::layer_norm(h, Tensor::full({6}, 1.0f), Tensor::full({6}, 0.0f), 1e-5f), w2);
}

Tensor sum_all(const Tensor& t) { return ops::sum_trailing(t, t.numel()); }

TEST(AutogradTape, NothingRecordsWithoutATape) {
  Tensor w = random_tensor({3, 3}, 1);
  w.set_requires_grad(true);
  Tensor y = ops::linear(random_tensor({2, 3}, 2), w);
  EXPECT_FALSE(y.requires_grad());
  autograd::Tape tape;
  {
    autograd::NoGrad ng;
    EXPECT_FALSE(ops::linear(random_tensor({2, 3}, 2), w).requires_grad());
  }
  EXPECT_TRUE(ops::linear(random_tensor({2, 3}, 2), w).requires_grad());
  EXPECT_EQ(tape.size(), 1u);
  // inputs that need no grad record nothing
  EXPECT_FALSE(ops::silu(random_tensor({4}, 3)).requires_grad());
  EXPECT_EQ(tape.size(), 1u);
}

TEST(AutogradTape, AccumulatesUntilZeroGrad) {
  Tensor x = random_tensor({4, 5}, 4), w1 = random_tensor({6, 5}, 5), w2 = random_tensor({3, 6}, 6);
  w1.set_requires_grad(true);
  Tensor g1;
  {
    autograd::Tape tape;
    autograd::backward(sum_all(small_net(x, w1, w2)));
    g1 = autograd::grad(w1).clone();
    autograd::backward(sum_all(small_net(x, w1, w2)));  // the tape was cleared; record again on the same tape
  }
  Tensor g2 = autograd::grad(w1);
  for (int64_t i = 0; i < g1.numel(); ++i) EXPECT_FLOAT_EQ(g2.f32()[i], 2.0f * g1.f32()[i]);
  autograd::zero_grad(w1);
  EXPECT_FALSE(autograd::grad(w1).defined());
}

TEST(AutogradTape, CheckpointEqualsPlainRecording) {
  Tensor x = random_tensor({4, 5}, 7), w1 = random_tensor({6, 5}, 8), w2 = random_tensor({3, 6}, 9);
  x.set_requires_grad(true);
  w1.set_requires_grad(true);
  w2.set_requires_grad(true);
  Tensor gx, gw1, gw2;
  {
    autograd::Tape tape;
    autograd::backward(sum_all(ops::scale(small_net(x, w1, w2), 3.0f)));
    gx = autograd::grad(x);
    gw1 = autograd::grad(w1);
    gw2 = autograd::grad(w2);
  }
  for (const Tensor* t : {&x, &w1, &w2}) autograd::zero_grad(*t);
  {
    autograd::Tape tape;
    Tensor y = autograd::checkpoint([&](const std::vector<Tensor>& in) { return small_net(in[0], w1, w2); }, {x});
    EXPECT_EQ(tape.size(), 1u);  // the inside of the checkpoint is not on the tape
    autograd::backward(sum_all(ops::scale(y, 3.0f)));
  }
  auto same = [](const Tensor& a, const Tensor& b) {
    ASSERT_TRUE(a.defined() && b.defined());
    for (int64_t i = 0; i < a.numel(); ++i) EXPECT_FLOAT_EQ(a.f32()[i], b.f32()[i]);
  };
  same(autograd::grad(x), gx);
  same(autograd::grad(w1), gw1);
  same(autograd::grad(w2), gw2);
}

TEST(AutogradTape, CheckpointReachesLeavesInsideWhenNoInputRequiresGrad) {
  Tensor x = random_tensor({4, 5}, 13), w1 = random_tensor({6, 5}, 14), w2 = random_tensor({3, 6}, 15);
  w1.set_requires_grad(true);
  autograd::Tape tape;
  Tensor y = autograd::checkpoint([&](const std::vector<Tensor>& in) { return small_net(in[0], w1, w2); }, {x});
  ASSERT_TRUE(y.requires_grad());
  autograd::backward(sum_all(y));
  EXPECT_TRUE(autograd::grad(w1).defined());
}

TEST(AutogradTape, Errors) {
  Tensor w = random_tensor({3}, 10);
  w.set_requires_grad(true);
  EXPECT_NE(testing::error_of([&] { autograd::backward(w); }).find("no tape"), std::string::npos);
  autograd::Tape tape;
  Tensor y = ops::mul(w, w);
  EXPECT_NE(testing::error_of([&] { ops::add_(y, w); }).find("in-place"), std::string::npos);
  EXPECT_NE(testing::error_of([&] { autograd::backward(random_tensor({3}, 11)); }).find("not recorded"),
            std::string::npos);
  autograd::backward(sum_all(y));
  // the tape is consumed: what it recorded is a constant now (its value can still be read and moved) and a
  // second backward through it is an error, not a silent double count
  EXPECT_FALSE(y.to(DType::F16).requires_grad());
  EXPECT_NE(testing::error_of([&] { autograd::backward(sum_all(y)); }).find("not recorded"), std::string::npos);
  Tensor stale_root = y;
  EXPECT_NE(testing::error_of([&] { autograd::backward(stale_root); }).find("not recorded"), std::string::npos);
}

TEST(AutogradTape, CastsCarryGradientsBackToTheMasterDtype) {
  Tensor w = random_tensor({8}, 12);
  w.set_requires_grad(true);
  autograd::Tape tape;
  Tensor h = w.to(DType::F16).to(DType::F32);  // the mixed-precision round trip, recorded both ways
  autograd::backward(sum_all(ops::scale(h, 2.0f)));
  Tensor g = autograd::grad(w);
  ASSERT_EQ(g.dtype(), DType::F32);
  for (float v : g.f32()) EXPECT_FLOAT_EQ(v, 2.0f);
}

TEST(AutogradTape, AdamWMatchesTorchFormula) {
  // torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1), three steps, written out
  Tensor p = Tensor::from_vector({3}, {0.5f, -1.0f, 2.0f});
  Tensor m = Tensor::zeros({3}), v = Tensor::zeros({3});
  const float gs[3][3] = {{0.1f, -0.2f, 0.3f}, {0.05f, 0.4f, -0.1f}, {-0.3f, 0.0f, 0.2f}};
  double rp[3] = {0.5, -1.0, 2.0}, rm[3] = {}, rv[3] = {};
  for (int step = 1; step <= 3; ++step) {
    ops::adamw_step(p, Tensor::from_vector({3}, {gs[step - 1][0], gs[step - 1][1], gs[step - 1][2]}), m, v, 1e-2f,
                    0.9f, 0.999f, 1e-8f, 0.1f, step);
    for (int i = 0; i < 3; ++i) {
      const double g = gs[step - 1][i];
      rp[i] *= 1.0 - 1e-2 * 0.1;
      rm[i] = 0.9 * rm[i] + 0.1 * g;
      rv[i] = 0.999 * rv[i] + 0.001 * g * g;
      const double mh = rm[i] / (1 - std::pow(0.9, step)), vh = rv[i] / (1 - std::pow(0.999, step));
      rp[i] -= 1e-2 * mh / (std::sqrt(vh) + 1e-8);
    }
  }
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(p.f32()[i], rp[i], 1e-6);
}

}  // namespace
}  // namespace ls
