// Dispatch layer of the op set (runtime/ops.h): validates devices, dtypes and shapes, allocates the
// output and calls the backend kernel (runtime/cpu/kernels.h). In a CUDA build (LORASTACK_HAS_CUDA) each op
// has one branch: when any input lives on the GPU the op runs there (runtime/cuda/backend.h), CPU inputs
// being uploaded, after the same validation.
#include "runtime/ops.h"

#include "runtime/autograd.h"
#include "runtime/ops_forward.h"

#include <algorithm>
#include <atomic>
#include <numeric>

#include "runtime/cpu/kernels.h"
#include "runtime/dispatch.h"

namespace ls::ops {
namespace {

using detail::need_f32;

/// Normalise a possibly negative dimension index for a tensor of `ndim` dims.
int norm_dim(const char* op, int dim, int ndim) {
  const int d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim) fail("{}: dimension {} out of range for a {}-d tensor", op, dim, ndim);
  return d;
}

const float* cf(const Tensor& t) { return t.data<float>(); }
float* mf(Tensor& t) { return t.data<float>(); }

/// Works out how `b` broadcasts onto `a` under the rules documented for add/mul in ops.h.
cpu::Bcast broadcast_mode(const char* op, const Tensor& a, const Tensor& b, int64_t& inner) {
  inner = 1;
  if (a.shape() == b.shape()) return cpu::Bcast::Same;
  // [N, C] onto [N, C, H, W]: checked before the suffix rule so the time-embedding add is never misread
  if (b.ndim() == 2 && a.ndim() == 4 && b.dim(0) == a.dim(0) && b.dim(1) == a.dim(1)) {
    inner = a.dim(2) * a.dim(3);
    return cpu::Bcast::PerChannel;
  }
  if (b.ndim() <= a.ndim() && b.ndim() > 0 && b.numel() > 0 &&
      std::equal(b.shape().begin(), b.shape().end(), a.shape().end() - b.ndim()))
    return cpu::Bcast::Suffix;
  if (b.numel() == 1) return cpu::Bcast::Scalar;
  fail("{}: shape {} does not broadcast onto {}", op, shape_str(b.shape()), shape_str(a.shape()));
}

Tensor binary_op(const char* op, cpu::Binary kind, const Tensor& a, const Tensor& b) {
  need_f32(op, "a", a);
  need_f32(op, "b", b);
  int64_t inner;
  const cpu::Bcast mode = broadcast_mode(op, a, b, inner);
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&a, &b}), cuda::binary(kind, mode, a, b, inner));
  Tensor y = Tensor::empty(a.shape());
  cpu::binary(kind, mode, cf(a), cf(b), mf(y), a.numel(), b.numel(), inner);
  return y;
}

Tensor unary_op(const char* op, cpu::Unary kind, const Tensor& x) {
  need_f32(op, "x", x);
  LS_ON_CUDA({&x}, cuda::unary(kind, x));
  Tensor y = Tensor::empty(x.shape());
  cpu::unary(kind, cf(x), mf(y), x.numel());
  return y;
}

}  // namespace

// ---- matrix products ----

namespace {
std::atomic<int64_t> g_flops{0};
void count_flops(int64_t f) { g_flops.fetch_add(f, std::memory_order_relaxed); }
}  // namespace

int64_t flops() { return g_flops.load(std::memory_order_relaxed); }
void reset_flops() { g_flops.store(0, std::memory_order_relaxed); }

namespace fwd {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  need_f32("linear", "x", x);
  need_f32("linear", "weight", weight);
  if (weight.ndim() != 2) fail("linear: weight must be [out, in], got {}", shape_str(weight.shape()));
  const int64_t out = weight.dim(0), in = weight.dim(1);
  if (x.ndim() < 1 || x.dim(-1) != in)
    fail("linear: x {} does not end in in_features {} of weight {}", shape_str(x.shape()), in, shape_str(weight.shape()));
  if (bias.defined()) {
    need_f32("linear", "bias", bias);
    if (bias.ndim() != 1 || bias.dim(0) != out)
      fail("linear: bias {} does not match out_features {}", shape_str(bias.shape()), out);
  }
  Shape ys = x.shape();
  ys.back() = out;
  const int64_t m = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  count_flops(2 * m * in * out);
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&x, &weight, &bias}), cuda::linear(x, weight, bias));
  Tensor y = Tensor::empty(ys);
  cpu::linear(cf(x), cf(weight), bias.defined() ? cf(bias) : nullptr, mf(y), m, in, out);
  return y;
}

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, float alpha) {
  need_f32("matmul", "a", a);
  need_f32("matmul", "b", b);
  if (a.ndim() != b.ndim() || (a.ndim() != 2 && a.ndim() != 3))
    fail("matmul: need two 2-d or two 3-d tensors, got {} and {}", shape_str(a.shape()), shape_str(b.shape()));
  const bool batched = a.ndim() == 3;
  const int64_t batch = batched ? a.dim(0) : 1;
  if (batched && b.dim(0) != batch)
    fail("matmul: batch sizes differ: {} and {}", shape_str(a.shape()), shape_str(b.shape()));
  const int64_t m = trans_a ? a.dim(-1) : a.dim(-2), ka = trans_a ? a.dim(-2) : a.dim(-1);
  const int64_t kb = trans_b ? b.dim(-1) : b.dim(-2), n = trans_b ? b.dim(-2) : b.dim(-1);
  if (ka != kb)
    fail("matmul: inner dimensions differ: {}{} · {}{}", shape_str(a.shape()), trans_a ? "ᵀ" : "",
         shape_str(b.shape()), trans_b ? "ᵀ" : "");
  count_flops(2 * batch * m * n * ka);
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&a, &b}), cuda::matmul(a, b, trans_a, trans_b, alpha));
  Tensor y = batched ? Tensor::empty({batch, m, n}) : Tensor::empty({m, n});
  cpu::batched_matmul(batch, m, n, ka, trans_a, trans_b, alpha, cf(a), cf(b), mf(y));
  return y;
}

// ---- convolution and resampling ----

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding, int groups) {
  need_f32("conv2d", "x", x);
  need_f32("conv2d", "weight", weight);
  if (x.ndim() != 4 || weight.ndim() != 4)
    fail("conv2d: need x [N, C, H, W] and weight [O, C/groups, kh, kw], got {} and {}", shape_str(x.shape()),
         shape_str(weight.shape()));
  if (stride < 1 || padding < 0 || groups < 1)
    fail("conv2d: invalid stride {} / padding {} / groups {}", stride, padding, groups);
  cpu::ConvShape s{x.dim(0), x.dim(1), x.dim(2), x.dim(3), weight.dim(0), weight.dim(2), weight.dim(3), 0, 0,
                   stride, padding, groups};
  if (s.c % groups != 0 || s.o % groups != 0 || weight.dim(1) * groups != s.c)
    fail("conv2d: x {} and weight {} do not match for groups = {}", shape_str(x.shape()), shape_str(weight.shape()),
         groups);
  if (bias.defined()) {
    need_f32("conv2d", "bias", bias);
    if (bias.ndim() != 1 || bias.dim(0) != s.o)
      fail("conv2d: bias {} does not match {} output channels", shape_str(bias.shape()), s.o);
  }
  if (s.kh < 1 || s.kw < 1) fail("conv2d: empty kernel in weight {}", shape_str(weight.shape()));
  if (s.h + 2 * padding < s.kh || s.w + 2 * padding < s.kw)
    fail("conv2d: kernel {}×{} larger than padded input {}", s.kh, s.kw, shape_str(x.shape()));
  s.oh = (s.h + 2 * padding - s.kh) / stride + 1;
  s.ow = (s.w + 2 * padding - s.kw) / stride + 1;
  count_flops(2 * s.n * s.o * s.oh * s.ow * (s.c / groups) * s.kh * s.kw);
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&x, &weight, &bias}), cuda::conv2d(x, weight, bias, s));
  Tensor y = Tensor::empty({s.n, s.o, s.oh, s.ow});
  cpu::conv2d(cf(x), cf(weight), bias.defined() ? cf(bias) : nullptr, mf(y), s);
  return y;
}

Tensor upsample_nearest2x(const Tensor& x) {
  need_f32("upsample_nearest2x", "x", x);
  if (x.ndim() != 4) fail("upsample_nearest2x: need [N, C, H, W], got {}", shape_str(x.shape()));
  LS_ON_CUDA({&x}, cuda::upsample_nearest2x(x));
  Tensor y = Tensor::empty({x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3)});
  cpu::upsample_nearest2x(cf(x), mf(y), x.dim(0) * x.dim(1), x.dim(2), x.dim(3));
  return y;
}

Tensor pad_right_bottom(const Tensor& x, int right, int bottom) {
  need_f32("pad_right_bottom", "x", x);
  if (x.ndim() != 4) fail("pad_right_bottom: need [N, C, H, W], got {}", shape_str(x.shape()));
  if (right < 0 || bottom < 0) fail("pad_right_bottom: negative padding ({}, {})", right, bottom);
  LS_ON_CUDA({&x}, cuda::pad_right_bottom(x, right, bottom));
  Tensor y = Tensor::empty({x.dim(0), x.dim(1), x.dim(2) + bottom, x.dim(3) + right});
  cpu::pad_right_bottom(cf(x), mf(y), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), right, bottom);
  return y;
}

// ---- normalisation ----

Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps, bool silu) {
  need_f32("group_norm", "x", x);
  need_f32("group_norm", "gamma", gamma);
  need_f32("group_norm", "beta", beta);
  if (x.ndim() < 2) fail("group_norm: need [N, C, *], got {}", shape_str(x.shape()));
  const int64_t n = x.dim(0), c = x.dim(1);
  if (groups < 1 || c % groups != 0) fail("group_norm: {} channels not divisible into {} groups", c, groups);
  if (gamma.shape() != Shape{c} || beta.shape() != Shape{c})
    fail("group_norm: gamma {} / beta {} do not match {} channels", shape_str(gamma.shape()), shape_str(beta.shape()), c);
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&x, &gamma, &beta}), cuda::group_norm(x, groups, gamma, beta, eps, silu));
  Tensor y = Tensor::empty(x.shape());
  if (x.numel() == 0) return y;
  cpu::group_norm(cf(x), cf(gamma), cf(beta), mf(y), n, c, x.numel() / (n * c), groups, eps, silu);
  return y;
}

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  need_f32("layer_norm", "x", x);
  need_f32("layer_norm", "gamma", gamma);
  need_f32("layer_norm", "beta", beta);
  if (x.ndim() < 1) fail("layer_norm: x must have at least one dimension");
  const int64_t c = x.dim(-1);
  if (gamma.shape() != Shape{c} || beta.shape() != Shape{c})
    fail("layer_norm: gamma {} / beta {} do not match last dimension of {}", shape_str(gamma.shape()),
         shape_str(beta.shape()), shape_str(x.shape()));
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&x, &gamma, &beta}), cuda::layer_norm(x, gamma, beta, eps));
  Tensor y = Tensor::empty(x.shape());
  if (x.numel() == 0) return y;
  cpu::layer_norm(cf(x), cf(gamma), cf(beta), mf(y), x.numel() / c, c, eps);
  return y;
}

// ---- activations and element-wise ----

Tensor silu(const Tensor& x) { return unary_op("silu", cpu::Unary::SiLU, x); }
Tensor gelu(const Tensor& x) { return unary_op("gelu", cpu::Unary::GELU, x); }
Tensor quick_gelu(const Tensor& x) { return unary_op("quick_gelu", cpu::Unary::QuickGELU, x); }

Tensor geglu(const Tensor& x) {
  need_f32("geglu", "x", x);
  if (x.ndim() < 1 || x.dim(-1) % 2 != 0) fail("geglu: last dimension of {} must be even", shape_str(x.shape()));
  LS_ON_CUDA({&x}, cuda::geglu(x));
  Shape ys = x.shape();
  ys.back() /= 2;
  Tensor y = Tensor::empty(ys);
  if (y.numel() == 0) return y;
  cpu::geglu(cf(x), mf(y), y.numel() / ys.back(), ys.back());
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary_op("add", cpu::Binary::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op("sub", cpu::Binary::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op("mul", cpu::Binary::Mul, a, b); }

Tensor scale(const Tensor& x, float s) {
  need_f32("scale", "x", x);
  LS_ON_CUDA({&x}, cuda::scale(x, s));
  Tensor y = Tensor::empty(x.shape());
  cpu::binary(cpu::Binary::Mul, cpu::Bcast::Scalar, cf(x), &s, mf(y), x.numel(), 1, 1);
  return y;
}

Tensor axpby(float a, const Tensor& x, float b, const Tensor& y) {
  need_f32("axpby", "x", x);
  need_f32("axpby", "y", y);
  if (x.shape() != y.shape()) fail("axpby: shapes differ: {} and {}", shape_str(x.shape()), shape_str(y.shape()));
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&x, &y}), cuda::axpby(a, x, b, y));
  Tensor r = Tensor::empty(x.shape());
  cpu::axpby(a, cf(x), b, cf(y), mf(r), x.numel());
  return r;
}


Tensor softmax(const Tensor& x) {
  need_f32("softmax", "x", x);
  if (x.ndim() < 1) fail("softmax: x must have at least one dimension");
  LS_ON_CUDA({&x}, cuda::softmax(x));
  Tensor y = Tensor::empty(x.shape());
  const int64_t cols = x.dim(-1);
  if (x.numel() == 0) return y;
  cpu::softmax(cf(x), mf(y), x.numel() / cols, cols);
  return y;
}

// ---- shape ops ----

Tensor cat(const std::vector<Tensor>& xs, int dim) {
  if (xs.empty()) fail("cat: no tensors");
  for (const Tensor& t : xs) need_f32("cat", "input", t);
  const Shape& s0 = xs[0].shape();
  const int d = norm_dim("cat", dim, static_cast<int>(s0.size()));
  Shape ys = s0;
  ys[d] = 0;
  for (const Tensor& t : xs) {
    bool ok = t.ndim() == static_cast<int>(s0.size());
    for (int i = 0; ok && i < t.ndim(); ++i) ok = i == d || t.dim(i) == s0[i];
    if (!ok) fail("cat: shape {} does not match {} outside dimension {}", shape_str(t.shape()), shape_str(s0), d);
    ys[d] += t.dim(d);
  }
#ifdef LORASTACK_HAS_CUDA
  for (const Tensor& t : xs)
    if (t.device() == Device::CUDA) return cuda::cat(xs, d, ys);
#endif
  Tensor y = Tensor::empty(ys);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= ys[i];
  for (int i = d + 1; i < static_cast<int>(ys.size()); ++i) inner *= ys[i];
  const int64_t dst_stride = ys[d] * inner;
  int64_t offset = 0;
  for (const Tensor& t : xs) {
    const int64_t block = t.dim(d) * inner;
    if (block > 0 && outer > 0) cpu::copy_blocks(cf(t), block, mf(y) + offset, dst_stride, outer, block);
    offset += block;
  }
  return y;
}

std::vector<Tensor> chunk(const Tensor& x, int n, int dim) {
  need_f32("chunk", "x", x);
  const int d = norm_dim("chunk", dim, x.ndim());
  if (n < 1 || x.dim(d) % n != 0)
    fail("chunk: dimension {} of {} does not split into {} equal chunks", d, shape_str(x.shape()), n);
  LS_ON_CUDA({&x}, cuda::chunk(x, n, d));
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= x.dim(i);
  for (int i = d + 1; i < x.ndim(); ++i) inner *= x.dim(i);
  const int64_t part = x.dim(d) / n, block = part * inner, src_stride = x.dim(d) * inner;
  Shape ps = x.shape();
  ps[d] = part;
  std::vector<Tensor> out;
  for (int i = 0; i < n; ++i) {
    Tensor y = Tensor::empty(ps);
    if (block > 0 && outer > 0) cpu::copy_blocks(cf(x) + i * block, src_stride, mf(y), block, outer, block);
    out.push_back(std::move(y));
  }
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& perm) {
  need_f32("permute", "x", x);
  const int nd = x.ndim();
  std::vector<int> p(perm);
  bool ok = static_cast<int>(p.size()) == nd;
  std::vector<bool> seen(nd, false);
  for (int& v : p) {
    if (v < 0) v += nd;
    ok = ok && v >= 0 && v < nd && !seen[v];
    if (ok) seen[v] = true;
  }
  if (!ok) fail("permute: invalid permutation of size {} for shape {}", perm.size(), shape_str(x.shape()));
  Shape ys(nd);
  for (int i = 0; i < nd; ++i) ys[i] = x.dim(p[i]);
  LS_ON_CUDA({&x}, cuda::permute(x, p, ys));
  Tensor y = Tensor::empty(ys);
  cpu::permute(cf(x), mf(y), x.shape().data(), p.data(), nd);
  return y;
}

Tensor nchw_to_nlc(const Tensor& x) {
  need_f32("nchw_to_nlc", "x", x);
  if (x.ndim() != 4) fail("nchw_to_nlc: need [N, C, H, W], got {}", shape_str(x.shape()));
  const int64_t n = x.dim(0), c = x.dim(1), l = x.dim(2) * x.dim(3);
  LS_ON_CUDA({&x}, cuda::transpose_batched(x, n, c, l, {n, l, c}));
  Tensor y = Tensor::empty({n, l, c});
  cpu::transpose_batched(cf(x), mf(y), n, c, l);
  return y;
}

Tensor nlc_to_nchw(const Tensor& x, int64_t h, int64_t w) {
  need_f32("nlc_to_nchw", "x", x);
  if (x.ndim() != 3 || x.dim(1) != h * w)
    fail("nlc_to_nchw: need [N, {}·{}, C], got {}", h, w, shape_str(x.shape()));
  const int64_t n = x.dim(0), l = x.dim(1), c = x.dim(2);
  LS_ON_CUDA({&x}, cuda::transpose_batched(x, n, l, c, {n, c, h, w}));
  Tensor y = Tensor::empty({n, c, h, w});
  cpu::transpose_batched(cf(x), mf(y), n, l, c);
  return y;
}

// ---- attention ----

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  need_f32("attention", "q", q);
  need_f32("attention", "k", k);
  need_f32("attention", "v", v);
  if (q.ndim() != 3 || k.ndim() != 3 || k.shape() != v.shape() || q.dim(0) != k.dim(0) || q.dim(2) != k.dim(2))
    fail("attention: need q [B, Lq, H·D], k = v [B, Lk, H·D], got q {} k {} v {}", shape_str(q.shape()),
         shape_str(k.shape()), shape_str(v.shape()));
  if (heads < 1 || q.dim(2) % heads != 0) fail("attention: width {} not divisible into {} heads", q.dim(2), heads);
  if (k.dim(1) < 1) fail("attention: no keys (k {})", shape_str(k.shape()));
  count_flops(4 * q.dim(0) * q.dim(1) * k.dim(1) * q.dim(2));  // QKᵀ and PV
  LS_ON_CUDA((std::initializer_list<const Tensor*>{&q, &k, &v}), cuda::attention(q, k, v, heads, causal));
  Tensor o = Tensor::empty(q.shape());
  if (q.numel() == 0) return o;
  cpu::attention(cf(q), cf(k), cf(v), mf(o), q.dim(0), q.dim(1), k.dim(1), heads, q.dim(2) / heads, causal);
  return o;
}

// ---- embeddings ----

Tensor embedding(const Tensor& table, const Tensor& ids) {
  need_f32("embedding", "table", table);
  if (table.ndim() != 2) fail("embedding: table must be [V, C], got {}", shape_str(table.shape()));
  if (!ids.defined() || ids.device() != Device::CPU || (ids.dtype() != DType::I64 && ids.dtype() != DType::I32))
    fail("embedding: ids must be I64 or I32 on the CPU, got {}", ids.defined() ? dtype_name(ids.dtype()) : "undefined");
  LS_ON_CUDA({&table}, cuda::embedding(table, ids));
  Shape ys = ids.shape();
  ys.push_back(table.dim(1));
  Tensor y = Tensor::empty(ys);
  cpu::embedding(cf(table), table.dim(0), table.dim(1), ids.raw(), ids.dtype() == DType::I64, ids.numel(), mf(y));
  return y;
}

Tensor timestep_embedding(const Tensor& t, int dim, bool flip_sin_to_cos, float freq_shift, float max_period) {
  if (!t.defined() || t.device() != Device::CPU) fail("timestep_embedding: t must be a defined CPU tensor");
  if (t.ndim() != 1) fail("timestep_embedding: t must be [N], got {}", shape_str(t.shape()));
  if (dim < 2) fail("timestep_embedding: dim {} must be at least 2", dim);
  if (static_cast<float>(dim / 2) == freq_shift) fail("timestep_embedding: freq_shift {} equals half of dim {}", freq_shift, dim);
  const Tensor tf = t.to(DType::F32);  // integer timesteps (I64 in diffusers) are exact in F32 below 2^24
  Tensor y = Tensor::empty({t.dim(0), dim});
  cpu::timestep_embedding(cf(tf), t.dim(0), dim, flip_sin_to_cos, freq_shift, max_period, mf(y));
  return y;
}

cpu::Bcast broadcast_of(const char* op, const Tensor& a, const Tensor& b, int64_t& inner) {
  return broadcast_mode(op, a, b, inner);
}

}  // namespace fwd

void add_(Tensor& a, const Tensor& b) {
  if (autograd::recording() && (a.requires_grad() || b.requires_grad()))
    fail("add_: in-place add on a tensor that requires grad {} while recording gradients (use ops::add)",
         shape_str(a.shape()));
  need_f32("add_", "a", a);
  need_f32("add_", "b", b);
  int64_t inner;
  const cpu::Bcast mode = broadcast_mode("add_", a, b, inner);
#ifdef LORASTACK_HAS_CUDA
  if (cuda::any({&a, &b})) {
    // a CPU accumulator meeting a CUDA addend stays on the CPU (the addend is downloaded)
    if (a.device() == Device::CUDA) return cuda::add_(a, b, mode, inner);
    const Tensor hb = b.to_device(Device::CPU).to(DType::F32);
    return cpu::binary(cpu::Binary::Add, mode, cf(a), cf(hb), mf(a), a.numel(), hb.numel(), inner);
  }
#endif
  cpu::binary(cpu::Binary::Add, mode, cf(a), cf(b), mf(a), a.numel(), b.numel(), inner);
}

// ---- threading ----

int num_threads() { return cpu::threads(); }
void set_num_threads(int n) { cpu::set_threads(n); }

}  // namespace ls::ops
