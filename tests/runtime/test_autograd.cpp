// Every op's adjoint against central finite differences (tests/runtime/grad_check.h) on small random inputs.
// Tolerance 1e-2 relative to max(|∂L/∂x|, 1) (F32 forward, ε = 1e-2; the observed worst case is printed).
#include <gtest/gtest.h>

#include "grad_check.h"
#include "runtime/ops_backward.h"

namespace ls {
namespace {

using testing::check_grad;
using testing::random_tensor;
using V = std::vector<Tensor>;

TEST(Autograd, Linear) {
  check_grad("linear", [](const V& v) { return ops::linear(v[0], v[1], v[2]); },
             {random_tensor({2, 3, 5}, 1), random_tensor({4, 5}, 2), random_tensor({4}, 3)});
}

TEST(Autograd, MatmulAllTransposes) {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const Shape as = ta ? Shape{2, 4, 3} : Shape{2, 3, 4}, bs = tb ? Shape{2, 5, 4} : Shape{2, 4, 5};
      check_grad("matmul " + std::to_string(ta) + std::to_string(tb),
                 [=](const V& v) { return ops::matmul(v[0], v[1], ta, tb, 0.7f); },
                 {random_tensor(as, 4), random_tensor(bs, 5)});
    }
  check_grad("matmul 2-d", [](const V& v) { return ops::matmul(v[0], v[1]); },
             {random_tensor({3, 4}, 6), random_tensor({4, 2}, 7)});
}

TEST(Autograd, Conv2d) {
  struct Case { Shape x, w; int stride, pad, groups; };
  const Case cases[] = {{{2, 3, 6, 5}, {4, 3, 3, 3}, 1, 1, 1},
                        {{1, 4, 7, 7}, {6, 4, 3, 3}, 2, 1, 1},
                        {{2, 4, 5, 5}, {6, 4, 1, 1}, 1, 0, 1},
                        {{1, 4, 5, 6}, {6, 2, 3, 3}, 1, 0, 2}};
  for (const Case& c : cases)
    check_grad("conv2d " + shape_str(c.w),
               [=](const V& v) { return ops::conv2d(v[0], v[1], v[2], c.stride, c.pad, c.groups); },
               {random_tensor(c.x, 8), random_tensor(c.w, 9), random_tensor({c.w[0]}, 10)});
}

TEST(Autograd, Resampling) {
  check_grad("upsample", [](const V& v) { return ops::upsample_nearest2x(v[0]); }, {random_tensor({2, 2, 3, 4}, 11)});
  check_grad("pad", [](const V& v) { return ops::pad_right_bottom(v[0], 1, 2); }, {random_tensor({1, 2, 3, 3}, 12)});
}

TEST(Autograd, Norms) {
  for (bool silu : {false, true})
    check_grad(silu ? "group_norm+silu" : "group_norm",
               [=](const V& v) { return ops::group_norm(v[0], 2, v[1], v[2], 1e-5f, silu); },
               {random_tensor({2, 4, 3, 3}, 13), random_tensor({4}, 14, 0.5f, 1.5f), random_tensor({4}, 15)});
  check_grad("layer_norm", [](const V& v) { return ops::layer_norm(v[0], v[1], v[2], 1e-5f); },
             {random_tensor({3, 2, 6}, 16), random_tensor({6}, 17, 0.5f, 1.5f), random_tensor({6}, 18)});
}

TEST(Autograd, Activations) {
  const Tensor x = random_tensor({3, 8}, 19, -3.0f, 3.0f);
  check_grad("silu", [](const V& v) { return ops::silu(v[0]); }, {x.clone()});
  check_grad("gelu", [](const V& v) { return ops::gelu(v[0]); }, {x.clone()});
  check_grad("quick_gelu", [](const V& v) { return ops::quick_gelu(v[0]); }, {x.clone()});
  check_grad("geglu", [](const V& v) { return ops::geglu(v[0]); }, {x.clone()});
  check_grad("softmax", [](const V& v) { return ops::softmax(v[0]); }, {x.clone()});
}

TEST(Autograd, BinaryWithEveryBroadcast) {
  const Shape a{2, 3, 2, 2};
  const Shape bs[] = {{2, 3, 2, 2}, {2, 2}, {2, 3}, {1}};  // same, suffix, per-channel, scalar
  int seed = 20;
  for (const Shape& b : bs) {
    const V in{random_tensor(a, seed++), random_tensor(b, seed++)};
    check_grad("add " + shape_str(b), [](const V& v) { return ops::add(v[0], v[1]); }, in);
    check_grad("sub " + shape_str(b), [](const V& v) { return ops::sub(v[0], v[1]); }, in);
    check_grad("mul " + shape_str(b), [](const V& v) { return ops::mul(v[0], v[1]); }, in);
  }
  check_grad("scale", [](const V& v) { return ops::scale(v[0], -1.5f); }, {random_tensor({4}, 30)});
  check_grad("axpby", [](const V& v) { return ops::axpby(0.3f, v[0], -2.0f, v[1]); },
             {random_tensor({5}, 31), random_tensor({5}, 32)});
}

TEST(Autograd, ShapeOps) {
  check_grad("cat dim 1", [](const V& v) { return ops::cat({v[0], v[1]}, 1); },
             {random_tensor({2, 3, 2}, 33), random_tensor({2, 1, 2}, 34)});
  check_grad("cat dim 0", [](const V& v) { return ops::cat({v[0], v[1]}, 0); },
             {random_tensor({1, 3}, 35), random_tensor({2, 3}, 36)});
  check_grad("chunk", [](const V& v) {
    auto parts = ops::chunk(v[0], 3, 1);
    return ops::add(ops::scale(parts[0], 2.0f), ops::mul(parts[2], parts[1]));
  }, {random_tensor({2, 6}, 37)});
  check_grad("permute", [](const V& v) { return ops::permute(v[0], {2, 0, 1}); }, {random_tensor({2, 3, 4}, 38)});
  check_grad("nchw_to_nlc", [](const V& v) { return ops::nchw_to_nlc(v[0]); }, {random_tensor({2, 3, 2, 2}, 39)});
  check_grad("nlc_to_nchw", [](const V& v) { return ops::nlc_to_nchw(v[0], 2, 3); }, {random_tensor({2, 6, 3}, 40)});
  check_grad("reshape+narrow0", [](const V& v) { return ops::scale(v[0].reshape({6, 2}).narrow0(1, 3), 2.0f); },
             {random_tensor({3, 4}, 41)});
  check_grad("clone", [](const V& v) { return ops::mul(v[0].clone(), v[0]); }, {random_tensor({5}, 42)});
}

TEST(Autograd, Attention) {
  for (bool causal : {false, true})
    check_grad(causal ? "attention causal" : "attention",
               [=](const V& v) { return ops::attention(v[0], v[1], v[2], 2, causal); },
               {random_tensor({2, 5, 8}, 43), random_tensor({2, causal ? 5 : 7, 8}, 44),
                random_tensor({2, causal ? 5 : 7, 8}, 45)});
  // long enough to cross the kernel's query tile
  check_grad("attention 2 tiles", [](const V& v) { return ops::attention(v[0], v[1], v[2], 1, true); },
             {random_tensor({1, 70, 4}, 46), random_tensor({1, 70, 4}, 47), random_tensor({1, 70, 4}, 48)});
}

TEST(Autograd, Embedding) {
  Tensor ids = Tensor::empty({2, 3}, DType::I64);
  const int64_t v[] = {0, 3, 3, 1, 4, 0};
  std::copy(v, v + 6, ids.data<int64_t>());
  check_grad("embedding", [ids](const V& in) { return ops::embedding(in[0], ids); }, {random_tensor({5, 4}, 49)});
}

TEST(Autograd, Reductions) {
  check_grad("sum_trailing", [](const V& v) { return ops::sum_trailing(v[0], 6); }, {random_tensor({2, 3, 2, 3}, 50)});
  check_grad("sum_leading", [](const V& v) { return ops::sum_leading(v[0], 3); }, {random_tensor({4, 3}, 51)});
}

}  // namespace
}  // namespace ls
