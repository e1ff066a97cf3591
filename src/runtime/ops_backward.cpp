// Dispatch of the gradient kernels (runtime/ops_backward.h): validate, allocate, call the CPU kernel
// (runtime/cpu/backward.h) or, when an input lives on the GPU, the CUDA one (runtime/cuda/backend.h).
#include "runtime/ops_backward.h"

#include "runtime/ops.h"

#include "runtime/autograd.h"
#include "runtime/cpu/backward.h"
#include "runtime/dispatch.h"
#include "runtime/profile.h"

namespace ls::ops {
namespace {

using Ts = std::initializer_list<const Tensor*>;

using detail::need_f32;

void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) fail("{}: shapes differ: {} and {}", op, shape_str(a.shape()), shape_str(b.shape()));
}

const float* cf(const Tensor& t) { return t.data<float>(); }
float* mf(Tensor& t) { return t.data<float>(); }

/// The forward conv's geometry from x's and the weight's shapes; checks gy against it.
cpu::ConvShape conv_shape(const char* op, const Shape& xs, const Shape& ws, const Tensor& gy, int stride, int padding,
                          int groups) {
  if (xs.size() != 4 || ws.size() != 4 || gy.ndim() != 4 || stride < 1 || padding < 0 || groups < 1 ||
      xs[1] % groups != 0 || ws[0] % groups != 0 || ws[1] * groups != xs[1])
    fail("{}: x {} / weight {} / groups {} do not describe a convolution", op, shape_str(xs), shape_str(ws), groups);
  cpu::ConvShape s{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], 0, 0, stride, padding, groups};
  s.oh = (s.h + 2 * padding - s.kh) / stride + 1;
  s.ow = (s.w + 2 * padding - s.kw) / stride + 1;
  if (gy.shape() != Shape{s.n, s.o, s.oh, s.ow})
    fail("{}: gy {} does not match the forward output [{}, {}, {}, {}]", op, shape_str(gy.shape()), s.n, s.o, s.oh,
         s.ow);
  return s;
}

Tensor unary_bw(const char* op, cpu::Unary f, const Tensor& x, const Tensor& gy) {
  need_f32(op, "x", x);
  need_f32(op, "gy", gy);
  same_shape(op, x, gy);
  LS_ON_CUDA((Ts{&x, &gy}), cuda::unary_backward(f, x, gy));
  Tensor gx = Tensor::empty(x.shape());
  cpu::unary_backward(f, cf(x), cf(gy), mf(gx), x.numel());
  return gx;
}

}  // namespace

namespace {
Tensor sum_leading_raw(const Tensor& x, int64_t cols) {
  need_f32("sum_leading", "x", x);
  if (cols < 1 || x.numel() % cols != 0) fail("sum_leading: {} does not split into rows of {}", shape_str(x.shape()), cols);
  LS_ON_CUDA({&x}, cuda::sum_leading(x, cols));
  Tensor y = Tensor::empty({cols});
  cpu::sum_leading(cf(x), mf(y), x.numel() / cols, cols);
  return y;
}

Tensor sum_trailing_raw(const Tensor& x, int64_t inner) {
  need_f32("sum_trailing", "x", x);
  if (inner < 1 || x.numel() % inner != 0)
    fail("sum_trailing: {} does not split into blocks of {}", shape_str(x.shape()), inner);
  // keep the leading shape when `inner` is exactly a product of trailing dims
  Shape ys;
  int64_t acc = 1;
  int keep = x.ndim();
  while (keep > 0 && acc < inner) acc *= x.dim(--keep);
  if (acc == inner) ys.assign(x.shape().begin(), x.shape().begin() + keep);
  if (ys.empty()) ys = {x.numel() / inner};
  LS_ON_CUDA({&x}, cuda::sum_trailing(x, inner).reshape(ys));
  Tensor y = Tensor::empty(ys);
  cpu::sum_trailing(cf(x), mf(y), x.numel() / inner, inner);
  return y;
}

}  // namespace

Tensor sum_leading(const Tensor& x, int64_t cols) {
  LS_PROFILE("sum_leading");
  Tensor y = sum_leading_raw(x, cols);
  if (autograd::needs_grad({&x})) {
    const Shape xs = x.shape();
    autograd::record(y, {x}, [xs, cols](const Tensor& g) {  // adjoint: g repeated over the rows
      return std::vector<Tensor>{add(Tensor::zeros({shape_numel(xs) / cols, cols}, g.dtype(), g.device()), g)};
    });
  }
  return y;
}

Tensor sum_trailing(const Tensor& x, int64_t inner) {
  LS_PROFILE("sum_trailing");
  Tensor y = sum_trailing_raw(x, inner);
  if (autograd::needs_grad({&x})) {
    const int64_t outer = x.numel() / inner;
    autograd::record(y, {x}, [outer, inner](const Tensor& g) {  // adjoint: g repeated over each block
      return std::vector<Tensor>{
          add(Tensor::zeros({1, outer, inner, 1}, g.dtype(), g.device()), g.reshape({1, outer}))};
    });
  }
  return y;
}

Tensor conv2d_backward_input(const Tensor& gy, const Tensor& weight, const Shape& x_shape, int stride, int padding,
                             int groups) {
  need_f32("conv2d_backward_input", "gy", gy);
  need_f32("conv2d_backward_input", "weight", weight);
  const cpu::ConvShape s = conv_shape("conv2d_backward_input", x_shape, weight.shape(), gy, stride, padding, groups);
  LS_ON_CUDA((Ts{&gy, &weight}), cuda::conv2d_backward_input(gy, weight, s));
  Tensor gx = Tensor::empty(x_shape);
  cpu::conv2d_backward_input(cf(gy), cf(weight), mf(gx), s);
  return gx;
}

Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape, int stride, int padding,
                              int groups) {
  need_f32("conv2d_backward_weight", "gy", gy);
  need_f32("conv2d_backward_weight", "x", x);
  const cpu::ConvShape s = conv_shape("conv2d_backward_weight", x.shape(), w_shape, gy, stride, padding, groups);
  LS_ON_CUDA((Ts{&gy, &x}), cuda::conv2d_backward_weight(gy, x, s));
  Tensor gw = Tensor::empty(w_shape);
  cpu::conv2d_backward_weight(cf(gy), cf(x), mf(gw), s);
  return gw;
}

Tensor upsample_nearest2x_backward(const Tensor& gy) {
  need_f32("upsample_nearest2x_backward", "gy", gy);
  if (gy.ndim() != 4 || gy.dim(2) % 2 || gy.dim(3) % 2)
    fail("upsample_nearest2x_backward: need [N, C, 2H, 2W], got {}", shape_str(gy.shape()));
  LS_ON_CUDA({&gy}, cuda::upsample_nearest2x_backward(gy));
  Tensor gx = Tensor::empty({gy.dim(0), gy.dim(1), gy.dim(2) / 2, gy.dim(3) / 2});
  cpu::upsample_nearest2x_backward(cf(gy), mf(gx), gy.dim(0) * gy.dim(1), gy.dim(2) / 2, gy.dim(3) / 2);
  return gx;
}

Tensor crop(const Tensor& x, int64_t h, int64_t w) {
  need_f32("crop", "x", x);
  if (x.ndim() != 4 || h < 0 || w < 0 || h > x.dim(2) || w > x.dim(3))
    fail("crop: cannot take {}×{} from {}", h, w, shape_str(x.shape()));
  LS_ON_CUDA({&x}, cuda::crop(x, h, w));
  Tensor y = Tensor::empty({x.dim(0), x.dim(1), h, w});
  cpu::crop(cf(x), mf(y), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), h, w);
  return y;
}

std::vector<Tensor> group_norm_backward(const Tensor& gy, const Tensor& x, int groups, const Tensor& gamma,
                                        const Tensor& beta, float eps, bool silu) {
  const char* op = "group_norm_backward";
  need_f32(op, "gy", gy);
  need_f32(op, "x", x);
  need_f32(op, "gamma", gamma);
  need_f32(op, "beta", beta);
  same_shape(op, gy, x);
  if (x.ndim() < 2 || groups < 1 || x.dim(1) % groups != 0 || gamma.shape() != Shape{x.dim(1)} ||
      beta.shape() != gamma.shape())
    fail("{}: x {} / gamma {} / groups {} do not match", op, shape_str(x.shape()), shape_str(gamma.shape()), groups);
  LS_ON_CUDA((Ts{&gy, &x, &gamma, &beta}), cuda::group_norm_backward(gy, x, groups, gamma, beta, eps, silu));
  const int64_t n = x.dim(0), c = x.dim(1);
  Tensor gx = Tensor::empty(x.shape()), gg = Tensor::empty({c}), gb = Tensor::empty({c});
  cpu::group_norm_backward(cf(gy), cf(x), cf(gamma), cf(beta), mf(gx), mf(gg), mf(gb), n, c, x.numel() / (n * c),
                           groups, eps, silu);
  return {gx, gg, gb};
}

std::vector<Tensor> layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, float eps) {
  const char* op = "layer_norm_backward";
  need_f32(op, "gy", gy);
  need_f32(op, "x", x);
  need_f32(op, "gamma", gamma);
  same_shape(op, gy, x);
  if (x.ndim() < 1 || gamma.shape() != Shape{x.dim(-1)})
    fail("{}: gamma {} does not match x {}", op, shape_str(gamma.shape()), shape_str(x.shape()));
  LS_ON_CUDA((Ts{&gy, &x, &gamma}), cuda::layer_norm_backward(gy, x, gamma, eps));
  const int64_t c = x.dim(-1);
  Tensor gx = Tensor::empty(x.shape()), gg = Tensor::empty({c}), gb = Tensor::empty({c});
  cpu::layer_norm_backward(cf(gy), cf(x), cf(gamma), mf(gx), mf(gg), mf(gb), x.numel() / c, c, eps);
  return {gx, gg, gb};
}

Tensor silu_backward(const Tensor& x, const Tensor& gy) { return unary_bw("silu_backward", cpu::Unary::SiLU, x, gy); }
Tensor gelu_backward(const Tensor& x, const Tensor& gy) { return unary_bw("gelu_backward", cpu::Unary::GELU, x, gy); }
Tensor quick_gelu_backward(const Tensor& x, const Tensor& gy) {
  return unary_bw("quick_gelu_backward", cpu::Unary::QuickGELU, x, gy);
}

Tensor geglu_backward(const Tensor& x, const Tensor& gy) {
  need_f32("geglu_backward", "x", x);
  need_f32("geglu_backward", "gy", gy);
  Shape half = x.shape();
  if (half.empty() || half.back() % 2) fail("geglu_backward: last dimension of {} must be even", shape_str(x.shape()));
  half.back() /= 2;
  if (gy.shape() != half) fail("geglu_backward: gy {} does not match x {}", shape_str(gy.shape()), shape_str(x.shape()));
  LS_ON_CUDA((Ts{&x, &gy}), cuda::geglu_backward(x, gy));
  Tensor gx = Tensor::empty(x.shape());
  if (gy.numel() > 0) cpu::geglu_backward(cf(x), cf(gy), mf(gx), gy.numel() / half.back(), half.back());
  return gx;
}

Tensor softmax_backward(const Tensor& y, const Tensor& gy) {
  need_f32("softmax_backward", "y", y);
  need_f32("softmax_backward", "gy", gy);
  same_shape("softmax_backward", y, gy);
  if (y.ndim() < 1) fail("softmax_backward: y must have at least one dimension");
  LS_ON_CUDA((Ts{&y, &gy}), cuda::softmax_backward(y, gy));
  Tensor gx = Tensor::empty(y.shape());
  if (y.numel() > 0) cpu::softmax_backward(cf(y), cf(gy), mf(gx), y.numel() / y.dim(-1), y.dim(-1));
  return gx;
}

std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& go, int heads,
                                       bool causal) {
  const char* op = "attention_backward";
  need_f32(op, "q", q);
  need_f32(op, "k", k);
  need_f32(op, "v", v);
  need_f32(op, "go", go);
  same_shape(op, q, go);
  if (q.ndim() != 3 || k.shape() != v.shape() || k.ndim() != 3 || q.dim(0) != k.dim(0) || q.dim(2) != k.dim(2) ||
      heads < 1 || q.dim(2) % heads != 0)
    fail("{}: q {} k {} v {} heads {} do not match", op, shape_str(q.shape()), shape_str(k.shape()),
         shape_str(v.shape()), heads);
  LS_ON_CUDA((Ts{&q, &k, &v, &go}), cuda::attention_backward(q, k, v, go, heads, causal));
  Tensor gq = Tensor::empty(q.shape()), gk = Tensor::empty(k.shape()), gv = Tensor::empty(v.shape());
  cpu::attention_backward(cf(q), cf(k), cf(v), cf(go), mf(gq), mf(gk), mf(gv), q.dim(0), q.dim(1), k.dim(1), heads,
                          q.dim(2) / heads, causal);
  return {gq, gk, gv};
}

Tensor embedding_backward(const Tensor& gy, const Tensor& ids, int64_t vocab) {
  need_f32("embedding_backward", "gy", gy);
  if (!ids.defined() || ids.device() != Device::CPU || (ids.dtype() != DType::I64 && ids.dtype() != DType::I32))
    fail("embedding_backward: ids must be I64 or I32 on the CPU");
  if (gy.ndim() != ids.ndim() + 1 || gy.numel() != ids.numel() * gy.dim(-1) || vocab < 1)
    fail("embedding_backward: gy {} does not match ids {}", shape_str(gy.shape()), shape_str(ids.shape()));
  LS_ON_CUDA({&gy}, cuda::embedding_backward(gy, ids, vocab));
  Tensor gt = Tensor::empty({vocab, gy.dim(-1)});
  cpu::embedding_backward(cf(gy), ids.raw(), ids.dtype() == DType::I64, ids.numel(), gy.dim(-1), vocab, mf(gt));
  return gt;
}

void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, float lr, float beta1, float beta2, float eps,
                float weight_decay, int64_t step) {
  const char* op = "adamw_step";
  need_f32(op, "grad", grad);
  for (const Tensor* t : {&param, &m, &v})
    if (!t->defined() || t->dtype() != DType::F32) fail("{}: param, m and v must be F32", op);
  same_shape(op, param, grad);
  same_shape(op, param, m);
  same_shape(op, param, v);
  if (step < 1) fail("{}: step {} must be ≥ 1", op, step);
#ifdef LORASTACK_HAS_CUDA
  if (cuda::any({&param, &grad, &m, &v})) return cuda::adamw_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
#endif
  cpu::adamw(mf(param), cf(grad), mf(m), mf(v), param.numel(), lr, beta1, beta2, eps, weight_decay, step);
}

}  // namespace ls::ops
