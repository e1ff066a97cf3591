// The public op set (runtime/ops.h): each op runs its forward (runtime/ops.cpp, namespace fwd) and, while an
// autograd tape records and an input requires grad, records its adjoint (runtime/autograd.h). The adjoints
// are written with ops and the gradient kernels of runtime/ops_backward.h, so they run on every backend.
// Reference for each: the backward torch.autograd defines for the torch function of the same name.
#include <numeric>

#include "runtime/autograd.h"
#include "runtime/ops.h"
#include "runtime/ops_backward.h"
#include "runtime/ops_forward.h"
#include "runtime/profile.h"

namespace ls::ops {
namespace {

using autograd::needs_grad;
using autograd::record;
using Grads = std::vector<Tensor>;

bool wants(const Tensor& t) { return t.defined() && t.requires_grad(); }

/// ∂L/∂b of a binary op whose b was broadcast onto a: sum g over the broadcast dimensions.
Tensor reduce_to(const Tensor& g, const Tensor& b, cpu::Bcast mode, int64_t inner) {
  switch (mode) {
    case cpu::Bcast::Same: return g;
    case cpu::Bcast::Suffix: return sum_leading(g, b.numel()).reshape(b.shape());
    case cpu::Bcast::PerChannel: return sum_trailing(g, inner).reshape(b.shape());
    case cpu::Bcast::Scalar: return sum_trailing(g, g.numel()).reshape(b.shape());
  }
  return g;
}

/// Rows [start, start+len) of dimension d (a copy unless d is effectively the outermost dimension).
Tensor slice_dim(const Tensor& x, int d, int64_t start, int64_t len) {
  int64_t outer = 1;
  for (int i = 0; i < d; ++i) outer *= x.dim(i);
  Shape s = x.shape();
  s[d] = len;
  if (outer == 1) return x.reshape({x.dim(d), -1}).narrow0(start, len).reshape(s);
  std::vector<int> perm(x.ndim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[0], perm[d]);  // a swap is its own inverse
  return permute(permute(x, perm).narrow0(start, len), perm);
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  LS_PROFILE("linear");
  Tensor y = fwd::linear(x, weight, bias);
  if (needs_grad({&x, &weight, &bias}))
    record(y, {x, weight, bias}, [x, weight, bias](const Tensor& g) {
      const int64_t out = weight.dim(0), in = weight.dim(1);
      const Tensor g2 = g.reshape({-1, out});
      return Grads{wants(x) ? matmul(g2, weight).reshape(x.shape()) : Tensor{},
                   wants(weight) ? matmul(g2, x.reshape({-1, in}), true, false) : Tensor{},
                   wants(bias) ? sum_leading(g, out) : Tensor{}};
    });
  return y;
}

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, float alpha) {
  LS_PROFILE("matmul");
  Tensor y = fwd::matmul(a, b, ta, tb, alpha);
  if (needs_grad({&a, &b}))
    record(y, {a, b}, [a, b, ta, tb, alpha](const Tensor& g) {
      Tensor ga, gb;
      if (wants(a)) ga = ta ? matmul(b, g, tb, true, alpha) : matmul(g, b, false, !tb, alpha);
      if (wants(b)) gb = tb ? matmul(g, a, true, ta, alpha) : matmul(a, g, !ta, false, alpha);
      return Grads{ga, gb};
    });
  return y;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding, int groups) {
  LS_PROFILE("conv2d");
  Tensor y = fwd::conv2d(x, weight, bias, stride, padding, groups);
  if (needs_grad({&x, &weight, &bias}))
    record(y, {x, weight, bias}, [x, weight, bias, stride, padding, groups](const Tensor& g) {
      return Grads{
          wants(x) ? conv2d_backward_input(g, weight, x.shape(), stride, padding, groups) : Tensor{},
          wants(weight) ? conv2d_backward_weight(g, x, weight.shape(), stride, padding, groups) : Tensor{},
          wants(bias) ? sum_leading(sum_trailing(g, g.dim(2) * g.dim(3)), g.dim(1)) : Tensor{}};
    });
  return y;
}

Tensor upsample_nearest2x(const Tensor& x) {
  LS_PROFILE("upsample_nearest2x");
  Tensor y = fwd::upsample_nearest2x(x);
  if (needs_grad({&x})) record(y, {x}, [](const Tensor& g) { return Grads{upsample_nearest2x_backward(g)}; });
  return y;
}

Tensor pad_right_bottom(const Tensor& x, int right, int bottom) {
  LS_PROFILE("pad_right_bottom");
  Tensor y = fwd::pad_right_bottom(x, right, bottom);
  if (needs_grad({&x})) {
    const int64_t h = x.dim(2), w = x.dim(3);
    record(y, {x}, [h, w](const Tensor& g) { return Grads{crop(g, h, w)}; });
  }
  return y;
}

Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps, bool silu) {
  LS_PROFILE("group_norm");
  Tensor y = fwd::group_norm(x, groups, gamma, beta, eps, silu);
  if (needs_grad({&x, &gamma, &beta}))
    record(y, {x, gamma, beta}, [x, groups, gamma, beta, eps, silu](const Tensor& g) {
      return group_norm_backward(g, x, groups, gamma, beta, eps, silu);
    });
  return y;
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  LS_PROFILE("layer_norm");
  Tensor y = fwd::layer_norm(x, gamma, beta, eps);
  if (needs_grad({&x, &gamma, &beta}))
    record(y, {x, gamma, beta}, [x, gamma, eps](const Tensor& g) { return layer_norm_backward(g, x, gamma, eps); });
  return y;
}

Tensor silu(const Tensor& x) {
  LS_PROFILE("silu");
  Tensor y = fwd::silu(x);
  if (needs_grad({&x})) record(y, {x}, [x](const Tensor& g) { return Grads{silu_backward(x, g)}; });
  return y;
}

Tensor gelu(const Tensor& x) {
  LS_PROFILE("gelu");
  Tensor y = fwd::gelu(x);
  if (needs_grad({&x})) record(y, {x}, [x](const Tensor& g) { return Grads{gelu_backward(x, g)}; });
  return y;
}

Tensor quick_gelu(const Tensor& x) {
  LS_PROFILE("quick_gelu");
  Tensor y = fwd::quick_gelu(x);
  if (needs_grad({&x})) record(y, {x}, [x](const Tensor& g) { return Grads{quick_gelu_backward(x, g)}; });
  return y;
}

Tensor geglu(const Tensor& x) {
  LS_PROFILE("geglu");
  Tensor y = fwd::geglu(x);
  if (needs_grad({&x})) record(y, {x}, [x](const Tensor& g) { return Grads{geglu_backward(x, g)}; });
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) {
  LS_PROFILE("add");
  Tensor y = fwd::add(a, b);
  if (needs_grad({&a, &b})) {
    int64_t inner;
    const cpu::Bcast mode = fwd::broadcast_of("add", a, b, inner);
    record(y, {a, b}, [b, mode, inner](const Tensor& g) { return Grads{g, reduce_to(g, b, mode, inner)}; });
  }
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  LS_PROFILE("sub");
  Tensor y = fwd::sub(a, b);
  if (needs_grad({&a, &b})) {
    int64_t inner;
    const cpu::Bcast mode = fwd::broadcast_of("sub", a, b, inner);
    record(y, {a, b}, [b, mode, inner](const Tensor& g) {
      return Grads{g, wants(b) ? scale(reduce_to(g, b, mode, inner), -1.0f) : Tensor{}};
    });
  }
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  LS_PROFILE("mul");
  Tensor y = fwd::mul(a, b);
  if (needs_grad({&a, &b})) {
    int64_t inner;
    const cpu::Bcast mode = fwd::broadcast_of("mul", a, b, inner);
    record(y, {a, b}, [a, b, mode, inner](const Tensor& g) {
      return Grads{wants(a) ? mul(g, b) : Tensor{}, wants(b) ? reduce_to(mul(g, a), b, mode, inner) : Tensor{}};
    });
  }
  return y;
}

Tensor scale(const Tensor& x, float s) {
  LS_PROFILE("scale");
  Tensor y = fwd::scale(x, s);
  if (needs_grad({&x})) record(y, {x}, [s](const Tensor& g) { return Grads{scale(g, s)}; });
  return y;
}

Tensor axpby(float a, const Tensor& x, float b, const Tensor& y) {
  LS_PROFILE("axpby");
  Tensor r = fwd::axpby(a, x, b, y);
  if (needs_grad({&x, &y})) record(r, {x, y}, [a, b](const Tensor& g) { return Grads{scale(g, a), scale(g, b)}; });
  return r;
}

Tensor softmax(const Tensor& x) {
  LS_PROFILE("softmax");
  Tensor y = fwd::softmax(x);
  if (needs_grad({&x})) record(y, {x}, [y = y.detach()](const Tensor& g) { return Grads{softmax_backward(y, g)}; });
  return y;
}

Tensor cat(const std::vector<Tensor>& xs, int dim) {
  LS_PROFILE("cat");
  Tensor y = fwd::cat(xs, dim);
  bool any = false;
  for (const Tensor& t : xs) any = any || needs_grad({&t});
  if (any) {
    const int d = dim < 0 ? dim + y.ndim() : dim;
    std::vector<int64_t> sizes;
    for (const Tensor& t : xs) sizes.push_back(t.dim(d));
    record(y, xs, [d, sizes](const Tensor& g) {
      Grads out;
      int64_t at = 0;
      for (int64_t n : sizes) {
        out.push_back(slice_dim(g, d, at, n));
        at += n;
      }
      return out;
    });
  }
  return y;
}

std::vector<Tensor> chunk(const Tensor& x, int n, int dim) {
  LS_PROFILE("chunk");
  std::vector<Tensor> ys = fwd::chunk(x, n, dim);
  if (needs_grad({&x})) {
    const int d = dim < 0 ? dim + x.ndim() : dim;
    for (int i = 0; i < n; ++i)
      record(ys[i], {x}, [d, i, n](const Tensor& g) {
        std::vector<Tensor> parts;
        for (int j = 0; j < n; ++j) parts.push_back(j == i ? g : Tensor::zeros(g.shape(), g.dtype(), g.device()));
        return Grads{cat(parts, d)};
      });
  }
  return ys;
}

Tensor permute(const Tensor& x, const std::vector<int>& perm) {
  LS_PROFILE("permute");
  Tensor y = fwd::permute(x, perm);
  if (needs_grad({&x})) {
    std::vector<int> inv(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) inv[(perm[i] + x.ndim()) % x.ndim()] = static_cast<int>(i);
    record(y, {x}, [inv](const Tensor& g) { return Grads{permute(g, inv)}; });
  }
  return y;
}

Tensor nchw_to_nlc(const Tensor& x) {
  LS_PROFILE("nchw_to_nlc");
  Tensor y = fwd::nchw_to_nlc(x);
  if (needs_grad({&x})) {
    const int64_t h = x.dim(2), w = x.dim(3);
    record(y, {x}, [h, w](const Tensor& g) { return Grads{nlc_to_nchw(g, h, w)}; });
  }
  return y;
}

Tensor nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  LS_PROFILE("nlc_to_nchw");
  Tensor y = fwd::nlc_to_nchw(x, h, w);
  if (needs_grad({&x})) record(y, {x}, [](const Tensor& g) { return Grads{nchw_to_nlc(g)}; });
  return y;
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  LS_PROFILE("attention");
  Tensor o = fwd::attention(q, k, v, heads, causal);
  if (needs_grad({&q, &k, &v}))
    record(o, {q, k, v}, [q, k, v, heads, causal](const Tensor& g) {
      return attention_backward(q, k, v, g, heads, causal);
    });
  return o;
}

Tensor embedding(const Tensor& table, const Tensor& ids) {
  LS_PROFILE("embedding");
  Tensor y = fwd::embedding(table, ids);
  if (needs_grad({&table})) {
    const int64_t vocab = table.dim(0);
    record(y, {table}, [ids, vocab](const Tensor& g) { return Grads{embedding_backward(g, ids, vocab)}; });
  }
  return y;
}

Tensor timestep_embedding(const Tensor& t, int dim, bool flip_sin_to_cos, float freq_shift, float max_period) {
  LS_PROFILE("timestep_embedding");
  return fwd::timestep_embedding(t, dim, flip_sin_to_cos, freq_shift, max_period);
}

}  // namespace ls::ops
