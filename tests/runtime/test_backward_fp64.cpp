// The CPU gradient kernels (runtime/ops_backward.h) and the tape's composite adjoints (linear, matmul, broadcasting
// mul) against vector-Jacobian products by central finite differences of naive double-precision forwards
// (tests/common/double_ref.h; h = 1e-5, so the reference is exact to ~1e-9). Error: max|got − ref| / max|ref|,
// tolerance 1e-5 (fp32 kernels; observed errors printed). Complements test_autograd.cpp, which checks the same
// adjoints end to end through the tape with fp32 finite differences.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "../common/double_ref.h"
#include "runtime/autograd.h"
#include "runtime/ops_backward.h"

namespace ls {
namespace {

using testing::Vec;

constexpr double kTol = 1e-5;

Tensor rnd(const Shape& s, uint32_t seed, float scale = 1.0f, float shift = 0.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(shift, scale);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = d(g);
  return t;
}
Vec vec(const Tensor& t) { return Vec(t.f32().begin(), t.f32().end()); }
void expect(const char* what, const Tensor& got, const Vec& ref) {
  const double e = testing::rel(vec(got), ref);
  std::printf("  %-44s rel err %.2e\n", what, e);
  EXPECT_LE(e, kTol) << what;
}

TEST(BackwardFp64, Convolution) {
  struct Case { int64_t n, c, h, w, o, k; int stride, pad, groups; };
  for (const Case& k : {Case{2, 3, 6, 5, 4, 3, 1, 1, 1}, Case{1, 4, 7, 7, 6, 3, 2, 1, 1}, Case{2, 4, 5, 5, 6, 1, 1, 0, 1},
                        Case{1, 4, 5, 6, 6, 3, 1, 0, 2}}) {
    const cpu::ConvShape s = testing::conv_shape(k.n, k.c, k.h, k.w, k.o, k.k, k.stride, k.pad, k.groups);
    const Tensor x = rnd({s.n, s.c, s.h, s.w}, 1), w = rnd({s.o, s.c / s.groups, s.kh, s.kw}, 2);
    const Tensor gy = rnd({s.n, s.o, s.oh, s.ow}, 3);
    auto f = [&](const std::vector<Vec>& in) { return testing::conv_ref(in[0], in[1], s); };
    expect("conv2d backward input", ops::conv2d_backward_input(gy, w, x.shape(), k.stride, k.pad, k.groups),
           testing::fd_vjp(f, {vec(x), vec(w)}, 0, vec(gy)));
    expect("conv2d backward weight", ops::conv2d_backward_weight(gy, x, w.shape(), k.stride, k.pad, k.groups),
           testing::fd_vjp(f, {vec(x), vec(w)}, 1, vec(gy)));
  }
}

TEST(BackwardFp64, Normalisation) {
  const int64_t n = 2, c = 4;
  const Tensor x = rnd({n, c, 3, 3}, 4), g = rnd({c}, 5, 0.3f, 1.0f), b = rnd({c}, 6), gy = rnd({n, c, 3, 3}, 7);
  for (bool silu : {false, true}) {
    auto f = [&](const std::vector<Vec>& in) { return testing::group_norm_ref(in[0], in[1], in[2], n, c, 2, 1e-5, silu); };
    const auto got = ops::group_norm_backward(gy, x, 2, g, b, 1e-5f, silu);
    const std::vector<Vec> in{vec(x), vec(g), vec(b)};
    expect(silu ? "group_norm+silu dx" : "group_norm dx", got[0], testing::fd_vjp(f, in, 0, vec(gy)));
    expect(silu ? "group_norm+silu dgamma" : "group_norm dgamma", got[1], testing::fd_vjp(f, in, 1, vec(gy)));
    expect(silu ? "group_norm+silu dbeta" : "group_norm dbeta", got[2], testing::fd_vjp(f, in, 2, vec(gy)));
  }
  const Tensor lx = rnd({3, 6}, 8), lg = rnd({6}, 9, 0.3f, 1.0f), lb = rnd({6}, 10), lgy = rnd({3, 6}, 11);
  auto lf = [&](const std::vector<Vec>& in) { return testing::layer_norm_ref(in[0], in[1], in[2], 1e-5); };
  const auto lgot = ops::layer_norm_backward(lgy, lx, lg, 1e-5f);
  const std::vector<Vec> lin{vec(lx), vec(lg), vec(lb)};
  expect("layer_norm dx", lgot[0], testing::fd_vjp(lf, lin, 0, vec(lgy)));
  expect("layer_norm dgamma", lgot[1], testing::fd_vjp(lf, lin, 1, vec(lgy)));
  expect("layer_norm dbeta", lgot[2], testing::fd_vjp(lf, lin, 2, vec(lgy)));
}

TEST(BackwardFp64, ActivationsAndSoftmax) {
  const Tensor x = rnd({4, 6}, 12, 2.0f), gy = rnd({4, 6}, 13);
  const std::pair<cpu::Unary, const char*> fs[] = {
      {cpu::Unary::SiLU, "silu"}, {cpu::Unary::GELU, "gelu"}, {cpu::Unary::QuickGELU, "quick_gelu"}};
  for (const auto& entry : fs) {
    const cpu::Unary u = entry.first;  // (clang 14 cannot capture structured bindings)
    const char* name = entry.second;
    auto f = [u](const std::vector<Vec>& in) {
      Vec y(in[0].size());
      for (size_t i = 0; i < y.size(); ++i) y[i] = testing::unary_ref(u, in[0][i]);
      return y;
    };
    const Tensor got = u == cpu::Unary::SiLU  ? ops::silu_backward(x, gy)
                       : u == cpu::Unary::GELU ? ops::gelu_backward(x, gy)
                                               : ops::quick_gelu_backward(x, gy);
    expect(name, got, testing::fd_vjp(f, {vec(x)}, 0, vec(gy)));
  }
  auto geglu = [](const std::vector<Vec>& in) {
    const size_t c = 3, rows = in[0].size() / (2 * c);
    Vec y(rows * c);
    for (size_t r = 0; r < rows; ++r)
      for (size_t i = 0; i < c; ++i) y[r * c + i] = in[0][r * 2 * c + i] * testing::unary_ref(cpu::Unary::GELU, in[0][r * 2 * c + c + i]);
    return y;
  };
  const Tensor ggy = rnd({4, 3}, 14);
  expect("geglu", ops::geglu_backward(x, ggy), testing::fd_vjp(geglu, {vec(x)}, 0, vec(ggy)));
  auto sm = [](const std::vector<Vec>& in) { return testing::softmax_ref(in[0], 6); };
  expect("softmax", ops::softmax_backward(ops::softmax(x), gy), testing::fd_vjp(sm, {vec(x)}, 0, vec(gy)));
}

TEST(BackwardFp64, Attention) {
  for (bool causal : {false, true}) {
    const int64_t b = 2, lq = 5, lk = causal ? 5 : 7, heads = 2;
    const Tensor q = rnd({b, lq, 8}, 15), k = rnd({b, lk, 8}, 16), v = rnd({b, lk, 8}, 17), go = rnd({b, lq, 8}, 18);
    auto f = [&](const std::vector<Vec>& in) { return testing::attention_ref(in[0], in[1], in[2], b, lq, lk, heads, causal); };
    const auto got = ops::attention_backward(q, k, v, go, heads, causal);
    const std::vector<Vec> in{vec(q), vec(k), vec(v)};
    expect(causal ? "attention causal dq" : "attention dq", got[0], testing::fd_vjp(f, in, 0, vec(go)));
    expect(causal ? "attention causal dk" : "attention dk", got[1], testing::fd_vjp(f, in, 1, vec(go)));
    expect(causal ? "attention causal dv" : "attention dv", got[2], testing::fd_vjp(f, in, 2, vec(go)));
  }
}

TEST(BackwardFp64, TapeCompositesLinearMatmulBroadcastMul) {
  // linear (x·Wᵀ + b) and a per-channel broadcast product, through the tape (their adjoints are compositions of
  // matmul / reductions in ops_grad.cpp)
  const Tensor x0 = rnd({3, 4}, 19), w0 = rnd({5, 4}, 20), b0 = rnd({5}, 21), s0 = rnd({3, 5}, 22), gy = rnd({1, 15, 2, 1}, 23);
  auto f = [](const std::vector<Vec>& in) {  // y[i, o, j] = (Σ_k x[i,k] w[o,k] + b[o]) · s[i, o] · (j + 1)
    Vec y(3 * 5 * 2);
    for (int i = 0; i < 3; ++i)
      for (int o = 0; o < 5; ++o) {
        double z = in[2][o];
        for (int k = 0; k < 4; ++k) z += in[0][i * 4 + k] * in[1][o * 4 + k];
        for (int j = 0; j < 2; ++j) y[(i * 5 + o) * 2 + j] = z * in[3][i * 5 + o] * (j + 1);
      }
    return y;
  };
  Tensor x = x0.clone(), w = w0.clone(), b = b0.clone(), s = s0.clone();
  for (Tensor* t : {&x, &w, &b, &s}) t->set_requires_grad(true);
  {
    autograd::Tape tape;
    const Tensor z = ops::linear(x, w, b);                                     // [3, 5]
    const Tensor rep = Tensor::from_vector({1, 15, 2, 1}, std::vector<float>(30, 1.0f));
    const Tensor scaled = ops::mul(ops::mul(rep, z.reshape({1, 15})), s.reshape({1, 15}));  // per-channel [N, C]
    const Tensor ramp = Tensor::from_vector({2, 1}, {1.0f, 2.0f});
    const Tensor y = ops::mul(scaled, ramp);                                   // suffix broadcast
    autograd::backward(y, gy);
  }
  const std::vector<Vec> in{vec(x0), vec(w0), vec(b0), vec(s0)};
  expect("linear dx (tape)", autograd::grad(x), testing::fd_vjp(f, in, 0, vec(gy)));
  expect("linear dW (tape)", autograd::grad(w), testing::fd_vjp(f, in, 1, vec(gy)));
  expect("linear db (tape)", autograd::grad(b), testing::fd_vjp(f, in, 2, vec(gy)));
  expect("per-channel mul db (tape)", autograd::grad(s), testing::fd_vjp(f, in, 3, vec(gy)));
}

}  // namespace
}  // namespace ls
