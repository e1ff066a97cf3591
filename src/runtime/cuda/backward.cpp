// Tensor-level CUDA gradients (runtime/cuda/backend.h, "gradients"): bring inputs to the device and compute dtype,
// allocate outputs and scratch, and call cuDNN (cudnn_conv.cpp), cuBLAS (gemm.cpp) or the gradient kernels
// (backward.cu). Shapes are validated by runtime/ops_backward.cpp; the checks here only keep inconsistent sizes
// from reaching a kernel.
//
// conv2d gradients: cuDNN or im2col per shape (run_conv, cudnn_conv.cpp). The im2col path: ∂x = col2im(W_gᵀ · gy_g)
// (fp32 columns), ∂W_g = Σ_n gy_n,g · im2col(x_n)_gᵀ accumulated in fp32; 1×1 stride-1 convolutions skip the
// column buffer. Attention: see attention_backward's
// comment in backend.h (the GEMM mapping of the forward in ops.cpp, run backwards).
#ifdef LORASTACK_HAS_CUDA

#include <algorithm>
#include <cmath>

#include "runtime/cuda/backend.h"
#include "runtime/cuda/backward_kernels.h"
#include "runtime/cuda/common.h"
#include "runtime/cuda/cudnn_conv.h"

namespace ls::cuda {
namespace {

/// Workspace bound for column buffers and attention score chunks (as ops.cpp).
constexpr int64_t kWorkspaceBytes = int64_t{1} << 30;

const char* cc(const Tensor& t) { return static_cast<const char*>(t.raw()); }
char* mc(Tensor& t) { return static_cast<char*>(t.raw()); }
float* mf(Tensor& t) { return static_cast<float*>(t.raw()); }

void need_numel(const char* op, const char* what, const Tensor& t, int64_t n) {
  if (t.numel() != n) fail("CUDA {}: {} {} has {} elements, expected {}", op, what, shape_str(t.shape()), t.numel(), n);
}

void need_same(const char* op, const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) fail("CUDA {}: shapes {} and {} differ", op, shape_str(a.shape()), shape_str(b.shape()));
}

void need_rank(const char* op, const Tensor& t, int r) {
  if (t.ndim() != r) fail("CUDA {}: expected a {}-d tensor, got {}", op, r, shape_str(t.shape()));
}

}  // namespace

Tensor sum_leading(const Tensor& x_, int64_t cols) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = on_device(x_, dt);
  if (cols < 0 || (cols == 0 ? x.numel() != 0 : x.numel() % cols != 0))
    fail("CUDA sum_leading: {} does not split into rows of {}", shape_str(x.shape()), cols);
  Tensor y = out({cols}, dt);
  if (cols == 0) return y;
  const int64_t rows = x.numel() / cols;
  Tensor scratch = out({k::column_sum_splits(rows, cols) * cols}, DType::F32);
  k::column_sum(elem(dt), x.raw(), elem(dt), y.raw(), rows, cols, mf(scratch));
  return y;
}

Tensor sum_trailing(const Tensor& x_, int64_t inner) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = on_device(x_, dt);
  const int64_t numel = x.numel();
  if (inner < 1 || numel % inner != 0)
    fail("CUDA sum_trailing: {} does not split into blocks of {}", shape_str(x.shape()), inner);
  Shape ys{numel / inner};
  if (inner == numel) {
    ys = {1};
  } else {
    int64_t p = 1;
    for (int d = x.ndim() - 1; d > 0; --d) {
      p *= x.dim(d);
      if (p == inner) {
        ys.assign(x.shape().begin(), x.shape().begin() + d);
        break;
      }
      if (p > inner) break;
    }
  }
  Tensor y = out(ys, dt);
  const int64_t rows = numel / inner;
  Tensor scratch = out({rows * k::row_sum_splits(rows, inner)}, DType::F32);
  k::row_sum(elem(dt), x.raw(), y.raw(), rows, inner, mf(scratch));
  return y;
}

namespace {

/// ∂x through cuBLAS + col2im; fully overwrites gx.
void conv_bwd_data_im2col(DType dt, const Tensor& gy, const Tensor& w, Tensor& gx, const cpu::ConvShape& s) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, kk = cg * s.kh * s.kw, ohw = s.oh * s.ow, hw = s.h * s.w;
  const size_t es = dtype_size(dt);
  if (s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0) {
    // gx_n[g] [cg, hw] = W_g [og, cg]ᵀ · gy_n[g] [og, hw], batched over samples
    for (int g = 0; g < s.groups; ++g)
      gemm(dt, dt, true, false, cg, hw, og, 1.0f, cc(w) + g * og * cg * es, cg, 0, cc(gy) + g * og * ohw * es, ohw,
           s.o * ohw, 0.0f, mc(gx) + g * cg * hw * es, hw, s.c * hw, s.n);
    return;
  }
  const int64_t per_sample = kk * ohw;
  const int64_t chunk = std::clamp<int64_t>(kWorkspaceBytes / 4 / std::max<int64_t>(per_sample, 1), 1, s.n);
  Tensor col = out({chunk * per_sample}, DType::F32);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t cnt = std::min(chunk, s.n - n0);
    for (int g = 0; g < s.groups; ++g) {
      // col_n [kk, ohw] = W_g [og, kk]ᵀ · gy_n[g] [og, ohw] (fp32), then scattered back (gather form) into gx
      gemm(dt, DType::F32, true, false, kk, ohw, og, 1.0f, cc(w) + g * og * kk * es, kk, 0,
           cc(gy) + (n0 * s.o * ohw + g * og * ohw) * es, ohw, s.o * ohw, 0.0f, col.raw(), ohw, per_sample, cnt);
      k::col2im(elem(dt), static_cast<const float*>(col.raw()), mc(gx) + (n0 * s.c * hw + g * cg * hw) * es, s.c * hw,
                cnt, cg, s.h, s.w, s.kh, s.kw, s.oh, s.ow, s.stride, s.pad);
    }
  }
}

/// ∂W through im2col + cuBLAS, accumulated over the batch in fp32; fully overwrites gw.
void conv_bwd_filter_im2col(DType dt, const Tensor& gy, const Tensor& x, Tensor& gw, const cpu::ConvShape& s) {
  const int64_t cg = s.c / s.groups, og = s.o / s.groups, kk = cg * s.kh * s.kw, ohw = s.oh * s.ow, hw = s.h * s.w;
  Tensor acc = dt == DType::F32 ? gw : out({gw.numel()}, DType::F32);
  memset_zero(acc.raw(), acc.nbytes());
  const size_t es = dtype_size(dt);
  if (s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0) {
    // gW_g [og, cg] += gy_n[g] [og, hw] · x_n[g] [cg, hw]ᵀ, groups as the GEMM batch
    for (int64_t i = 0; i < s.n; ++i)
      gemm(dt, DType::F32, false, true, og, cg, hw, 1.0f, cc(gy) + i * s.o * ohw * es, ohw, og * ohw,
           cc(x) + i * s.c * hw * es, hw, cg * hw, 1.0f, acc.raw(), cg, og * cg, s.groups);
  } else if (s.n > 0) {
    const int64_t per_sample = kk * ohw;
    const int64_t chunk =
        std::clamp<int64_t>(kWorkspaceBytes / static_cast<int64_t>(es) / std::max<int64_t>(per_sample, 1), 1, s.n);
    Tensor col = out({chunk * per_sample}, dt);
    for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
      const int64_t cnt = std::min(chunk, s.n - n0);
      for (int g = 0; g < s.groups; ++g) {
        k::im2col(elem(dt), cc(x) + (n0 * s.c * hw + g * cg * hw) * es, s.c * hw, col.raw(), cnt, cg, s.h, s.w, s.kh,
                  s.kw, s.oh, s.ow, s.stride, s.pad);
        // gW_g [og, kk] += gy_n[g] [og, ohw] · col_n [kk, ohw]ᵀ
        for (int64_t i = 0; i < cnt; ++i)
          gemm(dt, DType::F32, false, true, og, kk, ohw, 1.0f, cc(gy) + ((n0 + i) * s.o * ohw + g * og * ohw) * es, ohw,
               0, cc(col) + i * per_sample * es, ohw, 0, 1.0f, mf(acc) + g * og * kk, kk, 0, 1);
      }
    }
  }
  if (dt != DType::F32) k::convert(acc.raw(), k::Elem::F32, gw.raw(), elem(dt), gw.numel());
}

}  // namespace

Tensor conv2d_backward_input(const Tensor& gy_, const Tensor& w_, const cpu::ConvShape& s) {
  const DType dt = compute_dtype({&gy_, &w_});
  const Tensor gy = on_device(gy_, dt), w = on_device(w_, dt);
  need_numel("conv2d_backward_input", "gy", gy, s.n * s.o * s.oh * s.ow);
  need_numel("conv2d_backward_input", "weight", w, s.o * (s.c / s.groups) * s.kh * s.kw);
  Tensor gx = out({s.n, s.c, s.h, s.w}, dt);
  if (gx.numel() == 0) return gx;
  run_conv(
      ConvDir::BackwardData, dt, s, [&] { return cudnn_conv_backward_data(dt, gy.raw(), w.raw(), gx.raw(), s); },
      [&] { conv_bwd_data_im2col(dt, gy, w, gx, s); });
  return gx;
}

Tensor conv2d_backward_weight(const Tensor& gy_, const Tensor& x_, const cpu::ConvShape& s) {
  const DType dt = compute_dtype({&gy_, &x_});
  const Tensor gy = on_device(gy_, dt), x = on_device(x_, dt);
  need_numel("conv2d_backward_weight", "gy", gy, s.n * s.o * s.oh * s.ow);
  need_numel("conv2d_backward_weight", "x", x, s.n * s.c * s.h * s.w);
  Tensor gw = out({s.o, s.c / s.groups, s.kh, s.kw}, dt);
  if (gw.numel() == 0) return gw;
  if (s.n == 0) {
    memset_zero(gw.raw(), gw.nbytes());
    return gw;
  }
  run_conv(
      ConvDir::BackwardFilter, dt, s, [&] { return cudnn_conv_backward_filter(dt, gy.raw(), x.raw(), gw.raw(), s); },
      [&] { conv_bwd_filter_im2col(dt, gy, x, gw, s); });
  return gw;
}

Tensor upsample_nearest2x_backward(const Tensor& gy_) {
  const DType dt = compute_dtype({&gy_});
  const Tensor gy = on_device(gy_, dt);
  need_rank("upsample_nearest2x_backward", gy, 4);
  if (gy.dim(2) % 2 || gy.dim(3) % 2)
    fail("CUDA upsample_nearest2x_backward: gy {} has an odd spatial size", shape_str(gy.shape()));
  const int64_t h = gy.dim(2) / 2, w = gy.dim(3) / 2;
  Tensor gx = out({gy.dim(0), gy.dim(1), h, w}, dt);
  k::upsample_nearest2x_backward(elem(dt), gy.raw(), gx.raw(), gy.dim(0) * gy.dim(1), h, w);
  return gx;
}

Tensor crop(const Tensor& x_, int64_t h, int64_t w) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = on_device(x_, dt);
  need_rank("crop", x, 4);
  if (h < 0 || w < 0 || h > x.dim(2) || w > x.dim(3))
    fail("CUDA crop: {}×{} window outside {}", h, w, shape_str(x.shape()));
  Tensor y = out({x.dim(0), x.dim(1), h, w}, dt);
  k::crop(elem(dt), x.raw(), y.raw(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), h, w);
  return y;
}

std::vector<Tensor> group_norm_backward(const Tensor& gy_, const Tensor& x_, int groups, const Tensor& g_,
                                        const Tensor& b_, float eps, bool silu) {
  const DType dt = compute_dtype({&gy_, &x_, &g_, &b_});
  const Tensor gy = on_device(gy_, dt), x = on_device(x_, dt), gamma = on_device(g_, dt);
  need_same("group_norm_backward", gy, x);
  if (x.ndim() < 2 || groups < 1 || x.dim(1) % groups != 0)
    fail("CUDA group_norm_backward: x {} does not split into {} groups", shape_str(x.shape()), groups);
  const int64_t n = x.dim(0), c = x.dim(1);
  need_numel("group_norm_backward", "gamma", gamma, c);
  const Tensor beta = b_.defined() ? on_device(b_, dt) : Tensor::zeros({c}, dt, Device::CUDA);
  need_numel("group_norm_backward", "beta", beta, c);
  Tensor gx = out(x.shape(), dt);
  if (n * c == 0) return {gx, Tensor::zeros({c}, dt, Device::CUDA), Tensor::zeros({c}, dt, Device::CUDA)};
  Tensor gg = out({c}, dt), gb = out({c}, dt);
  Tensor scratch = out({4 * n * c + 4 * n * groups}, DType::F64);
  k::group_norm_backward(elem(dt), gy.raw(), x.raw(), gamma.raw(), beta.raw(), gx.raw(), gg.raw(), gb.raw(), n, c,
                         x.numel() / (n * c), groups, eps, silu, static_cast<double*>(scratch.raw()));
  return {gx, gg, gb};
}

std::vector<Tensor> layer_norm_backward(const Tensor& gy_, const Tensor& x_, const Tensor& g_, float eps) {
  const DType dt = compute_dtype({&gy_, &x_, &g_});
  const Tensor gy = on_device(gy_, dt), x = on_device(x_, dt), gamma = on_device(g_, dt);
  need_same("layer_norm_backward", gy, x);
  if (x.ndim() < 1) fail("CUDA layer_norm_backward: x is 0-d");
  const int64_t c = x.dim(-1);
  need_numel("layer_norm_backward", "gamma", gamma, c);
  Tensor gx = out(x.shape(), dt), gg = out({c}, dt), gb = out({c}, dt);
  if (c == 0) return {gx, gg, gb};
  const int64_t rows = x.numel() / c;
  Tensor stats = out({2 * std::max<int64_t>(rows, 1)}, DType::F32);
  Tensor scratch = out({2 * k::column_sum_splits(rows, c) * c}, DType::F32);
  k::layer_norm_backward(elem(dt), gy.raw(), x.raw(), gamma.raw(), gx.raw(), gg.raw(), gb.raw(), rows, c, eps,
                         mf(stats), mf(scratch));
  return {gx, gg, gb};
}

Tensor unary_backward(cpu::Unary f, const Tensor& x_, const Tensor& gy_) {
  const DType dt = compute_dtype({&gy_, &x_});
  const Tensor x = on_device(x_, dt), gy = on_device(gy_, dt);
  need_same("unary_backward", x, gy);
  Tensor gx = out(x.shape(), dt);
  k::unary_backward(elem(dt), f, x.raw(), gy.raw(), gx.raw(), x.numel());
  return gx;
}

Tensor geglu_backward(const Tensor& x_, const Tensor& gy_) {
  const DType dt = compute_dtype({&gy_, &x_});
  const Tensor x = on_device(x_, dt), gy = on_device(gy_, dt);
  if (x.ndim() < 1 || gy.ndim() != x.ndim() || x.dim(-1) != 2 * gy.dim(-1) || x.numel() != 2 * gy.numel())
    fail("CUDA geglu_backward: x {} is not gy {} with a doubled last dim", shape_str(x.shape()), shape_str(gy.shape()));
  Tensor gx = out(x.shape(), dt);
  const int64_t c = gy.dim(-1);
  if (c > 0) k::geglu_backward(elem(dt), x.raw(), gy.raw(), gx.raw(), gy.numel() / c, c);
  return gx;
}

Tensor softmax_backward(const Tensor& y_, const Tensor& gy_) {
  const DType dt = compute_dtype({&gy_, &y_});
  const Tensor y = on_device(y_, dt), gy = on_device(gy_, dt);
  need_same("softmax_backward", y, gy);
  Tensor gx = out(y.shape(), dt);
  const int64_t cols = y.ndim() ? y.dim(-1) : 1;
  if (y.numel() > 0)
    k::softmax_backward(elem(dt), elem(dt), elem(dt), y.raw(), gy.raw(), gx.raw(), y.numel() / cols, cols, 1.0f);
  return gx;
}

std::vector<Tensor> attention_backward(const Tensor& q_, const Tensor& k_, const Tensor& v_, const Tensor& go_,
                                       int heads, bool causal) {
  const DType dt = compute_dtype({&go_, &q_, &k_, &v_});
  const Tensor q = on_device(q_, dt), kt = on_device(k_, dt), v = on_device(v_, dt), go = on_device(go_, dt);
  need_rank("attention_backward", q, 3);
  need_rank("attention_backward", kt, 3);
  need_same("attention_backward", q, go);
  need_same("attention_backward", kt, v);
  const int64_t b = q.dim(0), lq = q.dim(1), hd = q.dim(2), lk = kt.dim(1);
  if (heads < 1 || hd % heads != 0 || kt.dim(0) != b || kt.dim(2) != hd)
    fail("CUDA attention_backward: q {} / k {} do not match with {} heads", shape_str(q.shape()),
         shape_str(kt.shape()), heads);
  const int64_t d = hd / heads;
  const size_t es = dtype_size(dt);
  const bool f32 = dt == DType::F32;
  Tensor gq = out(q.shape(), dt);
  Tensor gk_acc = out(kt.shape(), DType::F32), gv_acc = out(kt.shape(), DType::F32);
  memset_zero(gk_acc.raw(), gk_acc.nbytes());
  memset_zero(gv_acc.raw(), gv_acc.nbytes());
  if (b * lq * hd > 0 && lk > 0) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    // per query row: heads·lk fp32 scores/dP (8 bytes with the 16-bit P and dS, or the fp32 dP buffer)
    const int64_t per_row = heads * lk * 8;
    const int64_t rows = std::clamp<int64_t>(kWorkspaceBytes / per_row, 1, lq);
    Tensor sbuf = out({heads * rows * lk}, DType::F32);      // S, then dP (16-bit dtypes)
    Tensor pbuf = f32 ? sbuf : out({heads * rows * lk}, dt);  // P
    Tensor dpbuf = f32 ? out({heads * rows * lk}, DType::F32) : sbuf;
    Tensor dsbuf = f32 ? dpbuf : out({heads * rows * lk}, dt);  // dS·scale
    for (int64_t bi = 0; bi < b; ++bi) {
      const char* qb = cc(q) + bi * lq * hd * es;
      const char* kb = cc(kt) + bi * lk * hd * es;
      const char* vb = cc(v) + bi * lk * hd * es;
      const char* gob = cc(go) + bi * lq * hd * es;
      char* gqb = mc(gq) + bi * lq * hd * es;
      float* gkb = mf(gk_acc) + bi * lk * hd;
      float* gvb = mf(gv_acc) + bi * lk * hd;
      for (int64_t q0 = 0; q0 < lq; q0 += rows) {
        const int64_t r = std::min(rows, lq - q0);
        const char* qc = qb + q0 * hd * es;
        const char* goc = gob + q0 * hd * es;
        // S_h [r, lk] = Q_h · K_hᵀ → P = softmax(scale·S) (causal mask as the forward)
        gemm(dt, DType::F32, false, true, r, lk, d, 1.0f, qc, hd, d, kb, hd, d, 0.0f, sbuf.raw(), lk, r * lk, heads);
        k::softmax(k::Elem::F32, elem(dt), sbuf.raw(), pbuf.raw(), heads * r, lk, scale, causal, r, q0);
        // dV_h [lk, d] += P_hᵀ · dO_h
        gemm(dt, DType::F32, true, false, lk, d, r, 1.0f, pbuf.raw(), lk, r * lk, goc, hd, d, 1.0f, gvb, hd, d, heads);
        // dP_h [r, lk] = dO_h · V_hᵀ;  dS = scale · P ⊙ (dP − rowsum(dP ⊙ P))
        gemm(dt, DType::F32, false, true, r, lk, d, 1.0f, goc, hd, d, vb, hd, d, 0.0f, dpbuf.raw(), lk, r * lk, heads);
        k::softmax_backward(elem(dt), k::Elem::F32, elem(dt), pbuf.raw(), dpbuf.raw(), dsbuf.raw(), heads * r, lk,
                            scale);
        // dQ_h [r, d] = dS_h · K_h;  dK_h [lk, d] += dS_hᵀ · Q_h
        gemm(dt, dt, false, false, r, d, lk, 1.0f, dsbuf.raw(), lk, r * lk, kb, hd, d, 0.0f, gqb + q0 * hd * es, hd, d,
             heads);
        gemm(dt, DType::F32, true, false, lk, d, r, 1.0f, dsbuf.raw(), lk, r * lk, qc, hd, d, 1.0f, gkb, hd, d, heads);
      }
    }
  } else if (gq.numel() > 0) {
    memset_zero(gq.raw(), gq.nbytes());  // no keys: the output was all zeros
  }
  if (f32) return {gq, gk_acc, gv_acc};
  Tensor gk = out(kt.shape(), dt), gv = out(kt.shape(), dt);
  k::convert(gk_acc.raw(), k::Elem::F32, gk.raw(), elem(dt), gk.numel());
  k::convert(gv_acc.raw(), k::Elem::F32, gv.raw(), elem(dt), gv.numel());
  return {gq, gk, gv};
}

Tensor embedding_backward(const Tensor& gy_, const Tensor& ids_, int64_t vocab) {
  const DType dt = compute_dtype({&gy_});
  const Tensor gy = on_device(gy_, dt);
  const Tensor ids = ids_.to_device(Device::CPU);
  if (ids.dtype() != DType::I64 && ids.dtype() != DType::I32)
    fail("CUDA embedding_backward: ids have dtype {}, expected I64 or I32", dtype_name(ids.dtype()));
  if (gy.ndim() < 1 || vocab < 0) fail("CUDA embedding_backward: gy {} / vocab {}", shape_str(gy.shape()), vocab);
  const int64_t c = gy.dim(-1), n = ids.numel();
  need_numel("embedding_backward", "gy", gy, n * c);
  Tensor ids64 = Tensor::empty({std::max<int64_t>(n, 1)}, DType::I64);
  int64_t* p = ids64.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    p[i] = ids.dtype() == DType::I64 ? ids.data<int64_t>()[i] : ids.data<int32_t>()[i];
    if (p[i] < 0 || p[i] >= vocab) fail("embedding_backward: id {} at position {} outside [0, {})", p[i], i, vocab);
  }
  const Tensor dids = ids64.to_device(Device::CUDA);
  Tensor acc = out({vocab, c}, DType::F32);
  memset_zero(acc.raw(), acc.nbytes());
  k::embedding_backward(elem(dt), gy.raw(), static_cast<const int64_t*>(dids.raw()), n, c, mf(acc));
  if (dt == DType::F32) return acc;
  Tensor g = out({vocab, c}, dt);
  k::convert(acc.raw(), k::Elem::F32, g.raw(), elem(dt), g.numel());
  return g;
}

void adamw_step(Tensor& param, const Tensor& grad_, Tensor& m, Tensor& v, float lr, float beta1, float beta2,
                float eps, float weight_decay, int64_t step) {
  for (const auto& [t, what] : {std::pair<const Tensor*, const char*>{&param, "param"}, {&m, "m"}, {&v, "v"}})
    if (!t->defined() || t->device() != Device::CUDA || t->dtype() != DType::F32)
      fail("CUDA adamw_step: {} must be an F32 CUDA tensor", what);
  need_numel("adamw_step", "m", m, param.numel());
  need_numel("adamw_step", "v", v, param.numel());
  if (!grad_.defined() || (grad_.dtype() != DType::F32 && grad_.dtype() != DType::F16 && grad_.dtype() != DType::BF16))
    fail("CUDA adamw_step: grad must be F32, F16 or BF16");
  need_numel("adamw_step", "grad", grad_, param.numel());
  if (step < 1) fail("CUDA adamw_step: step {} < 1", step);
  const Tensor grad = grad_.to_device(Device::CUDA);
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  k::adamw(elem(grad.dtype()), mf(param), grad.raw(), mf(m), mf(v), param.numel(), lr, beta1, beta2, eps,
           weight_decay, static_cast<float>(bc1), static_cast<float>(bc2));
}

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
