// Tensor-level CUDA ops (runtime/cuda/backend.h): bring inputs to the device and compute dtype, allocate the
// output, and call cuBLAS (gemm.cpp) or the kernels (kernels.cu). Shapes were validated by runtime/ops.cpp.
//
// GEMM mapping: linear = x·Wᵀ with the bias pre-filled into y and beta = 1; conv2d = cuDNN or im2col + GEMM per
// group (1×1 stride-1 convolutions skip im2col), chosen per shape by run_conv (cudnn_conv.cpp), batched over samples with the weight's batch stride 0; attention =
// per sample and query chunk, S = QKᵀ (fp32 scores, heads as GEMM batch with stride D inside the
// interleaved [L, H·D] rows) → scaled, masked softmax → O = P·V written straight into the [L, H·D] output.
#ifdef LORASTACK_HAS_CUDA

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>

#include "runtime/cuda/backend.h"
#include "runtime/cuda/common.h"
#include "runtime/cuda/cudnn_conv.h"

namespace ls::cuda {
namespace {

Tensor dev(const Tensor& t, DType dt) { return on_device(t, dt); }

/// Workspace bound for im2col and attention score chunks.
constexpr size_t kWorkspaceBytes = size_t{1} << 30;

}  // namespace

Tensor linear(const Tensor& x_, const Tensor& w_, const Tensor& b_) {
  const DType dt = compute_dtype({&w_, &x_});
  const Tensor x = dev(x_, dt), w = dev(w_, dt), b = dev(b_, dt);
  const int64_t out_f = w.dim(0), in_f = w.dim(1), m = x.numel() / std::max<int64_t>(in_f, 1);
  Shape ys = x.shape();
  ys.back() = out_f;
  Tensor y = out(ys, dt);
  if (b.defined()) k::fill_rows(elem(dt), b.raw(), y.raw(), m, out_f, false, 0);
  gemm(dt, dt, false, true, m, out_f, in_f, 1.0f, x.raw(), in_f, 0, w.raw(), in_f, 0, b.defined() ? 1.0f : 0.0f,
       y.raw(), out_f, 0, 1);
  return y;
}

Tensor matmul(const Tensor& a_, const Tensor& b_, bool trans_a, bool trans_b, float alpha) {
  const DType dt = compute_dtype({&a_, &b_});
  const Tensor a = dev(a_, dt), b = dev(b_, dt);
  const bool batched = a.ndim() == 3;
  const int64_t batch = batched ? a.dim(0) : 1;
  const int64_t m = trans_a ? a.dim(-1) : a.dim(-2), k = trans_a ? a.dim(-2) : a.dim(-1);
  const int64_t n = trans_b ? b.dim(-2) : b.dim(-1);
  Tensor y = out(batched ? Shape{batch, m, n} : Shape{m, n}, dt);
  gemm(dt, dt, trans_a, trans_b, m, n, k, alpha, a.raw(), a.dim(-1), m * k, b.raw(), b.dim(-1), k * n, 0.0f, y.raw(),
       n, m * n, batch);
  return y;
}

namespace {

/// conv2d through im2col + cuBLAS (1×1 stride-1 convolutions as one GEMM per group); fully overwrites y.
void conv2d_im2col(DType dt, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, const cpu::ConvShape& s) {
  const int64_t ohw = s.oh * s.ow, cg = s.c / s.groups, og = s.o / s.groups, kk = cg * s.kh * s.kw;
  if (b.defined()) k::fill_rows(elem(dt), b.raw(), y.raw(), s.n * s.o, ohw, true, s.o);
  const float beta = b.defined() ? 1.0f : 0.0f;
  const size_t es = dtype_size(dt);
  const char* xp = static_cast<const char*>(x.raw());
  const char* wp = static_cast<const char*>(w.raw());
  char* yp = static_cast<char*>(y.raw());
  const bool direct = s.kh == 1 && s.kw == 1 && s.stride == 1 && s.pad == 0;
  if (direct) {
    // y_n[g] [og, hw] = W_g [og, cg] · x_n[g] [cg, hw], batched over samples
    for (int g = 0; g < s.groups; ++g)
      gemm(dt, dt, false, false, og, ohw, cg, 1.0f, wp + g * og * cg * es, cg, 0, xp + g * cg * ohw * es, ohw,
           s.c * ohw, beta, yp + g * og * ohw * es, ohw, s.o * ohw, s.n);
    return;
  }
  const int64_t per_sample = kk * ohw;
  const int64_t chunk = std::clamp<int64_t>(static_cast<int64_t>(kWorkspaceBytes / es) / std::max<int64_t>(per_sample, 1),
                                            1, s.n);
  Tensor col = out({chunk * per_sample}, dt);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t cnt = std::min(chunk, s.n - n0);
    for (int g = 0; g < s.groups; ++g) {
      k::im2col(elem(dt), xp + (n0 * s.c * s.h * s.w + g * cg * s.h * s.w) * es, s.c * s.h * s.w, col.raw(), cnt, cg,
                s.h, s.w, s.kh, s.kw, s.oh, s.ow, s.stride, s.pad);
      gemm(dt, dt, false, false, og, ohw, kk, 1.0f, wp + g * og * kk * es, kk, 0, col.raw(), ohw, per_sample, beta,
           yp + (n0 * s.o * ohw + g * og * ohw) * es, ohw, s.o * ohw, cnt);
    }
  }
}

}  // namespace

Tensor conv2d(const Tensor& x_, const Tensor& w_, const Tensor& b_, const cpu::ConvShape& s) {
  const DType dt = compute_dtype({&w_, &x_});
  const Tensor x = dev(x_, dt), w = dev(w_, dt), b = dev(b_, dt);
  Tensor y = out({s.n, s.o, s.oh, s.ow}, dt);
  if (y.numel() == 0) return y;
  run_conv(
      ConvDir::Forward, dt, s,
      [&] { return cudnn_conv_forward(dt, x.raw(), w.raw(), b.defined() ? b.raw() : nullptr, y.raw(), s); },
      [&] { conv2d_im2col(dt, x, w, b, y, s); });
  return y;
}

Tensor upsample_nearest2x(const Tensor& x_) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  Tensor y = out({x.dim(0), x.dim(1), 2 * x.dim(2), 2 * x.dim(3)}, dt);
  k::upsample_nearest2x(elem(dt), x.raw(), y.raw(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3));
  return y;
}

Tensor pad_right_bottom(const Tensor& x_, int right, int bottom) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  Tensor y = out({x.dim(0), x.dim(1), x.dim(2) + bottom, x.dim(3) + right}, dt);
  k::pad_right_bottom(elem(dt), x.raw(), y.raw(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), right, bottom);
  return y;
}

Tensor group_norm(const Tensor& x_, int groups, const Tensor& g_, const Tensor& b_, float eps, bool silu) {
  const DType dt = compute_dtype({&x_, &g_});
  const Tensor x = dev(x_, dt), g = dev(g_, dt), b = dev(b_, dt);
  Tensor y = out(x.shape(), dt);
  const int64_t n = x.dim(0), c = x.dim(1);
  if (x.numel() == 0) return y;
  Tensor stats = out({2 * n * groups}, DType::F64);
  k::group_norm(elem(dt), x.raw(), g.raw(), b.raw(), y.raw(), n, c, x.numel() / (n * c), groups, eps, silu,
                static_cast<double*>(stats.raw()));
  return y;
}

Tensor layer_norm(const Tensor& x_, const Tensor& g_, const Tensor& b_, float eps) {
  const DType dt = compute_dtype({&x_, &g_});
  const Tensor x = dev(x_, dt), g = dev(g_, dt), b = dev(b_, dt);
  Tensor y = out(x.shape(), dt);
  const int64_t c = x.dim(-1);
  if (x.numel()) k::layer_norm(elem(dt), x.raw(), g.raw(), b.raw(), y.raw(), x.numel() / c, c, eps);
  return y;
}

Tensor unary(cpu::Unary f, const Tensor& x_) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  Tensor y = out(x.shape(), dt);
  k::unary(elem(dt), f, x.raw(), y.raw(), x.numel());
  return y;
}

Tensor geglu(const Tensor& x_) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  Shape ys = x.shape();
  ys.back() /= 2;
  Tensor y = out(ys, dt);
  if (ys.back()) k::geglu(elem(dt), x.raw(), y.raw(), y.numel() / ys.back(), ys.back());
  return y;
}

Tensor binary(cpu::Binary op, cpu::Bcast mode, const Tensor& a_, const Tensor& b_, int64_t inner) {
  const DType dt = compute_dtype({&a_, &b_});
  const Tensor a = dev(a_, dt), b = dev(b_, dt);
  Tensor y = out(a.shape(), dt);
  k::binary(elem(dt), op, mode, a.raw(), b.raw(), y.raw(), a.numel(), b.numel(), inner);
  return y;
}

void add_(Tensor& a, const Tensor& b_, cpu::Bcast mode, int64_t inner) {
  if (a.device() != Device::CUDA) fail("add_: in-place add of a CUDA tensor into a CPU tensor {}", shape_str(a.shape()));
  const Tensor b = dev(b_, a.dtype());
  k::binary(elem(a.dtype()), cpu::Binary::Add, mode, a.raw(), b.raw(), a.raw(), a.numel(), b.numel(), inner);
}

Tensor scale(const Tensor& x_, float s) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  Tensor y = out(x.shape(), dt);
  k::axpby(elem(dt), s, x.raw(), 0.0f, x.raw(), y.raw(), x.numel());
  return y;
}

Tensor axpby(float a, const Tensor& x_, float b, const Tensor& z_) {
  const DType dt = compute_dtype({&x_, &z_});
  const Tensor x = dev(x_, dt), z = dev(z_, dt);
  Tensor y = out(x.shape(), dt);
  k::axpby(elem(dt), a, x.raw(), b, z.raw(), y.raw(), x.numel());
  return y;
}

Tensor softmax(const Tensor& x_) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  Tensor y = out(x.shape(), dt);
  const int64_t cols = x.dim(-1);
  if (x.numel()) k::softmax(elem(dt), elem(dt), x.raw(), y.raw(), x.numel() / cols, cols, 1.0f, false, 1, 0);
  return y;
}

Tensor cat(const std::vector<Tensor>& xs, int d, const Shape& ys) {
  std::vector<const Tensor*> ptrs;
  DType dt = DType::F32;
  for (const Tensor& t : xs)
    if (t.device() == Device::CUDA) {
      dt = t.dtype();
      break;
    }
  Tensor y = out(ys, dt);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= ys[i];
  for (size_t i = d + 1; i < ys.size(); ++i) inner *= ys[i];
  const size_t es = dtype_size(dt);
  const int64_t dst_stride = ys[d] * inner;
  int64_t offset = 0;
  for (const Tensor& t_ : xs) {
    const Tensor t = dev(t_, dt);
    const int64_t block = t.dim(d) * inner;
    copy_2d(static_cast<char*>(y.raw()) + offset * es, dst_stride * es, t.raw(), block * es, block * es, outer);
    offset += block;
  }
  return y;
}

std::vector<Tensor> chunk(const Tensor& x_, int n, int d) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < d; ++i) outer *= x.dim(i);
  for (int i = d + 1; i < x.ndim(); ++i) inner *= x.dim(i);
  const int64_t part = x.dim(d) / n, block = part * inner, src_stride = x.dim(d) * inner;
  const size_t es = dtype_size(dt);
  Shape ps = x.shape();
  ps[d] = part;
  std::vector<Tensor> outs;
  for (int i = 0; i < n; ++i) {
    Tensor y = out(ps, dt);
    copy_2d(y.raw(), block * es, static_cast<const char*>(x.raw()) + i * block * es, src_stride * es, block * es, outer);
    outs.push_back(std::move(y));
  }
  return outs;
}

Tensor permute(const Tensor& x_, const std::vector<int>& perm, const Shape& ys) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  if (x.ndim() > 8) fail("permute: {} dimensions (the CUDA backend handles at most 8)", x.ndim());
  Tensor y = out(ys, dt);
  k::permute(elem(dt), x.raw(), y.raw(), x.shape().data(), perm.data(), x.ndim(), x.numel());
  return y;
}

Tensor transpose_batched(const Tensor& x_, int64_t batch, int64_t rows, int64_t cols, const Shape& ys) {
  const DType dt = compute_dtype({&x_});
  const Tensor x = dev(x_, dt);
  Tensor y = out(ys, dt);
  k::transpose_batched(elem(dt), x.raw(), y.raw(), batch, rows, cols);
  return y;
}

namespace {
std::atomic<bool>& flash_flag() {
  static std::atomic<bool> on{[] {
    // default: the flash kernel (0.63 ms against 1.37 ms for the GEMM path on SD1.5's 4096-token self-attention,
    // fp16, batch 2, H200; bench/cuda_notes.md). LORASTACK_ATTENTION=gemm selects the GEMM path.
    const char* e = std::getenv("LORASTACK_ATTENTION");
    return !(e && std::string(e) == "gemm");
  }()};
  return on;
}
}  // namespace

void set_flash_attention(bool on) { flash_flag() = on; }
bool flash_attention_enabled() { return flash_flag(); }

Tensor attention(const Tensor& q_, const Tensor& k_, const Tensor& v_, int heads, bool causal) {
  const DType dt = compute_dtype({&q_, &k_, &v_});
  const Tensor q = dev(q_, dt), kt = dev(k_, dt), v = dev(v_, dt);
  const int64_t b = q.dim(0), lq = q.dim(1), lk = kt.dim(1), hd = q.dim(2), d = hd / heads;
  Tensor o = out(q.shape(), dt);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  if (dt != DType::F32 && flash_attention_enabled() &&
      k::flash_attention(elem(dt), q.raw(), kt.raw(), v.raw(), o.raw(), b, lq, lk, heads, d, causal, scale))
    return o;
  const size_t es = dtype_size(dt);
  // query rows per chunk so that heads·rows·lk fp32 scores (+ the dt probabilities) fit the workspace
  const int64_t per_row = heads * lk * static_cast<int64_t>(4 + es);
  const int64_t rows = std::clamp<int64_t>(static_cast<int64_t>(kWorkspaceBytes) / per_row, 1, lq);
  Tensor scores = out({heads * rows * lk}, DType::F32);
  Tensor probs = dt == DType::F32 ? scores : out({heads * rows * lk}, dt);
  for (int64_t bi = 0; bi < b; ++bi) {
    const char* qb = static_cast<const char*>(q.raw()) + bi * lq * hd * es;
    const char* kb = static_cast<const char*>(kt.raw()) + bi * lk * hd * es;
    const char* vb = static_cast<const char*>(v.raw()) + bi * lk * hd * es;
    char* ob = static_cast<char*>(o.raw()) + bi * lq * hd * es;
    for (int64_t q0 = 0; q0 < lq; q0 += rows) {
      const int64_t r = std::min(rows, lq - q0);
      // S_h [r, lk] = Q_h [r, d] · K_h [lk, d]ᵀ
      gemm(dt, DType::F32, false, true, r, lk, d, 1.0f, qb + q0 * hd * es, hd, d, kb, hd, d, 0.0f, scores.raw(), lk,
           r * lk, heads);
      k::softmax(k::Elem::F32, elem(dt), scores.raw(), probs.raw(), heads * r, lk, scale, causal, r, q0);
      // O_h [r, d] = P_h [r, lk] · V_h [lk, d]
      gemm(dt, dt, false, false, r, d, lk, 1.0f, probs.raw(), lk, r * lk, vb, hd, d, 0.0f, ob + q0 * hd * es, hd, d,
           heads);
    }
  }
  return o;
}

Tensor embedding(const Tensor& table_, const Tensor& ids) {
  const DType dt = compute_dtype({&table_});
  const Tensor table = dev(table_, dt);
  const int64_t v = table.dim(0), c = table.dim(1), n = ids.numel();
  Tensor ids64 = Tensor::empty(ids.shape(), DType::I64);
  int64_t* p = ids64.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    p[i] = ids.dtype() == DType::I64 ? ids.data<int64_t>()[i] : ids.data<int32_t>()[i];
    if (p[i] < 0 || p[i] >= v) fail("embedding: id {} at position {} outside [0, {})", p[i], i, v);
  }
  const Tensor dids = ids64.to_device(Device::CUDA);
  Shape ys = ids.shape();
  ys.push_back(c);
  Tensor y = out(ys, dt);
  k::embedding(elem(dt), table.raw(), c, static_cast<const int64_t*>(dids.raw()), n, y.raw());
  return y;
}

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
