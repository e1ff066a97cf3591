#include "adapters/math.h"

#include <cmath>

#include "runtime/ops.h"

namespace ls::adapters {

namespace {

Tensor f32(const Tensor& t) { return t.to(DType::F32); }

int64_t tail_numel(const Shape& s) {
  int64_t n = 1;
  for (size_t i = 1; i < s.size(); ++i) n *= s[i];
  return n;
}

// [m, k] @ [k, n] of two F32 tensors viewed as matrices (ops::matmul: the backend GEMM, multi-threaded).
Tensor mm(const Tensor& a, int64_t m, int64_t k, const Tensor& b, int64_t n) {
  return ops::matmul(a.reshape({m, k}), b.reshape({k, n}));
}

Tensor transpose2d(const Tensor& a, int64_t rows, int64_t cols) {
  Tensor t = Tensor::empty({cols, rows});
  const float* s = a.data<float>();
  float* d = t.data<float>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) d[j * rows + i] = s[i * cols + j];
  return t;
}

// Tucker product W[o, i, y, x] = Σ_pq t[p, q, y, x]·wa[p, o]·wb[q, i]; t [R1, R2, kh, kw], wa [R1, O], wb [R2, I].
Tensor tucker(const Tensor& t_, const Tensor& wa_, const Tensor& wb_) {
  Tensor t = f32(t_), wa = f32(wa_), wb = f32(wb_);
  int64_t r1 = t.dim(0), r2 = t.dim(1), kh = t.dim(2), kw = t.dim(3), o = wa.dim(1), in = wb.dim(1);
  // tmp[p, i, y, x] = Σ_q t[p, q, y, x]·wb[q, i]
  Tensor tmp = Tensor::zeros({r1, in, kh, kw});
  const float* tp = t.data<float>();
  const float* bp = wb.data<float>();
  float* mp = tmp.data<float>();
  int64_t sp = kh * kw;
  for (int64_t p = 0; p < r1; ++p)
    for (int64_t q = 0; q < r2; ++q)
      for (int64_t i = 0; i < in; ++i) {
        float b = bp[q * in + i];
        const float* src = tp + (p * r2 + q) * sp;
        float* dst = mp + (p * in + i) * sp;
        for (int64_t s = 0; s < sp; ++s) dst[s] += src[s] * b;
      }
  // W[o, :] = Σ_p wa[p, o]·tmp[p, :] = waᵀ @ tmp
  Tensor wat = transpose2d(wa, r1, o);
  return mm(wat, o, r1, tmp, in * sp).reshape({o, in, kh, kw});
}

// Kronecker product; a [A, C], b [B, D] or [B, D, kh, kw] → [A·B, C·D(, kh, kw)].
Tensor kron(const Tensor& a, const Tensor& b) {
  int64_t A = a.dim(0), C = a.dim(1), B = b.dim(0), D = b.dim(1);
  int64_t sp = b.ndim() == 4 ? b.dim(2) * b.dim(3) : 1;
  Shape out = {A * B, C * D};
  if (b.ndim() == 4) out.insert(out.end(), {b.dim(2), b.dim(3)});
  Tensor r = Tensor::empty(out);
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  float* rp = r.data<float>();
  for (int64_t i = 0; i < A; ++i)
    for (int64_t j = 0; j < B; ++j)
      for (int64_t p = 0; p < C; ++p) {
        float av = ap[i * C + p];
        float* dst = rp + ((i * B + j) * (C * D) + p * D) * sp;
        const float* src = bp + j * D * sp;
        for (int64_t q = 0; q < D * sp; ++q) dst[q] = av * src[q];
      }
  return r;
}

// LoKr factors as F32 tensors.
Tensor lokr_w1(const ModuleTensors& m) {
  if (m.has(Part::LokrW1)) return f32(m.get(Part::LokrW1));
  Tensor a = f32(m.get(Part::LokrW1A)), b = f32(m.get(Part::LokrW1B));
  return mm(a, a.dim(0), a.dim(1), b, b.dim(1));
}
Tensor lokr_w2(const ModuleTensors& m) {
  if (m.has(Part::LokrW2)) return f32(m.get(Part::LokrW2));
  if (m.has(Part::LokrT2)) return tucker(m.get(Part::LokrT2), m.get(Part::LokrW2A), m.get(Part::LokrW2B));
  Tensor a = f32(m.get(Part::LokrW2A)), b = f32(m.get(Part::LokrW2B));
  return mm(a, a.dim(0), a.dim(1), b, tail_numel(b.shape()));
}

// LoHa factor i (1 or 2) as [out, n] or [out, in, kh, kw] (Tucker).
Tensor hada(const ModuleTensors& m, Part wa, Part wb, Part t) {
  if (m.has(t)) return tucker(m.get(t), m.get(wa), m.get(wb));
  Tensor a = f32(m.get(wa)), b = f32(m.get(wb));
  return mm(a, a.dim(0), a.dim(1), b, tail_numel(b.shape()));
}

}  // namespace

float module_scale(const ModuleTensors& m) {
  if (!m.has_alpha) return 1.0f;
  switch (m.algo) {
    case Algo::LoRA:
    case Algo::LoCon:
    case Algo::LoRACP: return m.alpha / static_cast<float>(m.get(Part::Down).dim(0));
    case Algo::LoHa: return m.alpha / static_cast<float>(m.get(Part::HadaW1B).dim(0));
    case Algo::LoKr:
      if (m.has(Part::LokrW2B)) return m.alpha / static_cast<float>(m.get(Part::LokrW2B).dim(0));
      if (m.has(Part::LokrW1B)) return m.alpha / static_cast<float>(m.get(Part::LokrW1B).dim(0));
      return 1.0f;  // nothing decomposed: alpha ignored
    default: return 1.0f;
  }
}

bool has_weight_delta(const ModuleTensors& m) {
  if (m.algo == Algo::Diff) return m.has(Part::Diff);
  if (m.algo == Algo::Norm) return m.has(Part::WNorm);
  return true;
}

bool has_bias_delta(const ModuleTensors& m) {
  return m.has(Part::DiffB) || m.has(Part::BNorm) || m.has(Part::UpBias);
}

Tensor raw_weight_delta(const ModuleTensors& m, const Shape& w) {
  float k = module_scale(m);
  Tensor d;
  switch (m.algo) {
    case Algo::LoRA:
    case Algo::LoCon: {
      Tensor up = f32(m.get(Part::Up)), down = f32(m.get(Part::Down));
      int64_t r = down.dim(0);
      d = mm(up, up.dim(0), r, down, tail_numel(down.shape()));
      break;
    }
    case Algo::LoRACP: {
      // ΔW[p, q, y, x] = Σ_ij up[p, i]·mid[i, j, y, x]·down[j, q]
      Tensor up = f32(m.get(Part::Up)), down = f32(m.get(Part::Down));
      int64_t out = up.dim(0), r = up.dim(1), rd = down.dim(0), in = down.dim(1);
      Tensor upt = transpose2d(up.reshape({out, r}), out, r);  // [r, out] = wa layout
      d = tucker(m.get(Part::Mid), upt, down.reshape({rd, in}));
      break;
    }
    case Algo::LoHa: {
      Tensor a = hada(m, Part::HadaW1A, Part::HadaW1B, Part::HadaT1);
      Tensor b = hada(m, Part::HadaW2A, Part::HadaW2B, Part::HadaT2);
      float* ap = a.data<float>();
      const float* bp = b.data<float>();
      for (int64_t i = 0; i < a.numel(); ++i) ap[i] *= bp[i];
      d = a;
      break;
    }
    case Algo::LoKr: {
      Tensor w1 = lokr_w1(m), w2 = lokr_w2(m);
      d = kron(w1, w2);
      break;
    }
    case Algo::Diff: d = f32(m.get(Part::Diff)).clone(); break;
    case Algo::Norm: d = f32(m.get(Part::WNorm)).clone(); break;
    case Algo::IA3: fail("raw_weight_delta: IA3 needs the base weight");
  }
  if (k != 1.0f) {  // d is always a fresh tensor here
    float* p = d.data<float>();
    for (int64_t i = 0; i < d.numel(); ++i) p[i] *= k;
  }
  return d.reshape(w);
}

Tensor weight_delta(const ModuleTensors& m, const Tensor& base, float s) {
  const Shape& w = base.shape();
  const float* W = base.data<float>();
  int64_t out = w[0], cols = base.numel() / out;
  if (m.algo == Algo::IA3) {
    Tensor v = f32(m.get(Part::IA3));
    bool on_input = false;
    if (m.has(Part::OnInput)) {
      const Tensor& f = m.get(Part::OnInput);
      on_input = f.dtype() == DType::BOOL ? *static_cast<const uint8_t*>(f.raw()) != 0 : f32(f).data<float>()[0] != 0.0f;
    }
    const float* vp = v.data<float>();
    int64_t in = w.size() > 1 ? w[1] : 1, sp = cols / in;
    Tensor d = Tensor::empty(w);
    float* dp = d.data<float>();
    for (int64_t o = 0; o < out; ++o)
      for (int64_t c = 0; c < cols; ++c) dp[o * cols + c] = s * W[o * cols + c] * (on_input ? vp[c / sp] : vp[o]);
    return d;
  }
  Tensor d = raw_weight_delta(m, w);
  float* dp = d.data<float>();
  if (!m.dora) {
    for (int64_t i = 0; i < d.numel(); ++i) dp[i] *= s;
    return d;
  }
  Part p = m.has(Part::Magnitude) ? Part::Magnitude : Part::DoraScale;
  Tensor mag = f32(m.get(p));
  const float* mp = mag.data<float>();
  bool out_axis = p == Part::Magnitude || (mag.dim(0) == out && mag.numel() == out);
  if (out_axis) {
    // PEFT: V = W + s·ΔL; W′ = m/‖V‖_row · V; return W′ − W.
    for (int64_t o = 0; o < out; ++o) {
      double n2 = 0;
      for (int64_t c = 0; c < cols; ++c) {
        float v = W[o * cols + c] + s * dp[o * cols + c];
        dp[o * cols + c] = v;
        n2 += double(v) * v;
      }
      float g = mp[o] / static_cast<float>(std::sqrt(n2));
      for (int64_t c = 0; c < cols; ++c) dp[o * cols + c] = g * dp[o * cols + c] - W[o * cols + c];
    }
    return d;
  }
  // ComfyUI / A1111: W_c = W + ΔL; column norms over (out, kh, kw); W′ = W + s·(W_c·m/‖W_c‖_col − W).
  int64_t in = w[1], sp = cols / in;
  std::vector<double> n2(in, 0.0);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t c = 0; c < cols; ++c) {
      float v = W[o * cols + c] + dp[o * cols + c];
      dp[o * cols + c] = v;
      n2[c / sp] += double(v) * v;
    }
  for (int64_t o = 0; o < out; ++o)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t i = c / sp;
      float wd = dp[o * cols + c] * (mp[i] / static_cast<float>(std::sqrt(n2[i])));
      dp[o * cols + c] = s * (wd - W[o * cols + c]);
    }
  return d;
}

Tensor bias_delta(const ModuleTensors& m, const Shape& b, float s) {
  Tensor d = Tensor::zeros(b);
  float* dp = d.data<float>();
  for (Part p : {Part::DiffB, Part::BNorm, Part::UpBias}) {
    if (!m.has(p)) continue;
    float k = p == Part::UpBias ? module_scale(m) : 1.0f;
    Tensor v = f32(m.get(p));
    const float* vp = v.data<float>();
    for (int64_t i = 0; i < d.numel(); ++i) dp[i] += s * k * vp[i];
  }
  return d;
}

}  // namespace ls::adapters
