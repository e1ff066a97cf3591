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

// A delta fits a weight when it has the same numel and the same output dimension (a [o, i] delta on a
// [o, i, 1, 1] conv, a LoHa [o, i·kh·kw] delta on a 3×3 conv, ...).
bool fits(const Shape& delta, const Shape& weight) {
  return !delta.empty() && !weight.empty() && delta[0] == weight[0] && shape_numel(delta) == shape_numel(weight);
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

Shape natural_shape(const ModuleTensors& m, const std::string& file) {
  auto key = [&](Part p) { return m.keys.at(p); };
  auto shp = [&](Part p) { return shape_str(m.get(p).shape()); };
  auto need_ndim = [&](Part p, int lo, int hi) {
    int n = m.get(p).ndim();
    if (n < lo || n > hi) fail("{}: '{}' has shape {}, expected {}-{} dimensions", file, key(p), shp(p), lo, hi);
  };
  switch (m.algo) {
    case Algo::LoRA:
    case Algo::LoCon:
    case Algo::LoRACP: {
      need_ndim(Part::Up, 2, 4);
      need_ndim(Part::Down, 2, 4);
      const Tensor& up = m.get(Part::Up);
      const Tensor& down = m.get(Part::Down);
      if (up.ndim() == 4 && tail_numel(up.shape()) != up.dim(1))
        fail("{}: '{}' has shape {}, expected [out, r, 1, 1]", file, key(Part::Up), shp(Part::Up));
      Shape s = {up.dim(0)};
      if (m.algo == Algo::LoRACP) {
        const Tensor& mid = m.get(Part::Mid);
        if (mid.ndim() != 4 || mid.dim(0) != up.dim(1) || mid.dim(1) != down.dim(0))
          fail("{}: '{}' has shape {}, expected [{}, {}, kh, kw] between lora_up {} and lora_down {}", file,
               key(Part::Mid), shp(Part::Mid), up.dim(1), down.dim(0), shp(Part::Up), shp(Part::Down));
        if (tail_numel(down.shape()) != down.dim(1))
          fail("{}: '{}' has shape {}, expected [r, in, 1, 1] with lora_mid", file, key(Part::Down), shp(Part::Down));
        s.insert(s.end(), {down.dim(1), mid.dim(2), mid.dim(3)});
        return s;
      }
      if (up.dim(1) != down.dim(0))
        fail("{}: rank mismatch: '{}' {} vs '{}' {}", file, key(Part::Up), shp(Part::Up), key(Part::Down), shp(Part::Down));
      s.insert(s.end(), down.shape().begin() + 1, down.shape().end());
      return s;
    }
    case Algo::LoHa: {
      bool tk = m.has(Part::HadaT1);
      Shape s1, s2;
      for (int i = 0; i < 2; ++i) {
        Part wa = i ? Part::HadaW2A : Part::HadaW1A, wb = i ? Part::HadaW2B : Part::HadaW1B;
        Part t = i ? Part::HadaT2 : Part::HadaT1;
        need_ndim(wa, 2, 2);
        need_ndim(wb, 2, 4);
        const Tensor& a = m.get(wa);
        const Tensor& b = m.get(wb);
        Shape& s = i ? s2 : s1;
        if (tk) {
          const Tensor& tt = m.get(t);
          if (tt.ndim() != 4 || tt.dim(0) != a.dim(0) || tt.dim(1) != b.dim(0))
            fail("{}: '{}' has shape {}, does not fit '{}' {} and '{}' {}", file, key(t), shp(t), key(wa), shp(wa),
                 key(wb), shp(wb));
          s = {a.dim(1), b.dim(1), tt.dim(2), tt.dim(3)};
        } else {
          if (a.dim(1) != b.dim(0))
            fail("{}: rank mismatch: '{}' {} vs '{}' {}", file, key(wa), shp(wa), key(wb), shp(wb));
          s = {a.dim(0), tail_numel(b.shape())};
        }
      }
      if (s1 != s2)
        fail("{}: LoHa factors differ: '{}' gives {}, '{}' gives {}", file, key(Part::HadaW1A), shape_str(s1),
             key(Part::HadaW2A), shape_str(s2));
      return s1;
    }
    case Algo::LoKr: {
      Shape w1, w2;
      if (m.has(Part::LokrW1)) {
        need_ndim(Part::LokrW1, 2, 2);
        w1 = m.get(Part::LokrW1).shape();
      } else {
        need_ndim(Part::LokrW1A, 2, 2);
        need_ndim(Part::LokrW1B, 2, 2);
        if (m.get(Part::LokrW1A).dim(1) != m.get(Part::LokrW1B).dim(0))
          fail("{}: rank mismatch: '{}' {} vs '{}' {}", file, key(Part::LokrW1A), shp(Part::LokrW1A),
               key(Part::LokrW1B), shp(Part::LokrW1B));
        w1 = {m.get(Part::LokrW1A).dim(0), m.get(Part::LokrW1B).dim(1)};
      }
      if (m.has(Part::LokrW2)) {
        need_ndim(Part::LokrW2, 2, 4);
        w2 = m.get(Part::LokrW2).shape();
        if (w2.size() == 3) fail("{}: '{}' has shape {}, expected 2 or 4 dims", file, key(Part::LokrW2), shp(Part::LokrW2));
      } else if (m.has(Part::LokrT2)) {
        const Tensor& t = m.get(Part::LokrT2);
        need_ndim(Part::LokrW2A, 2, 2);
        need_ndim(Part::LokrW2B, 2, 2);
        if (t.ndim() != 4 || t.dim(0) != m.get(Part::LokrW2A).dim(0) || t.dim(1) != m.get(Part::LokrW2B).dim(0))
          fail("{}: '{}' has shape {}, does not fit '{}' {} and '{}' {}", file, key(Part::LokrT2), shp(Part::LokrT2),
               key(Part::LokrW2A), shp(Part::LokrW2A), key(Part::LokrW2B), shp(Part::LokrW2B));
        w2 = {m.get(Part::LokrW2A).dim(1), m.get(Part::LokrW2B).dim(1), t.dim(2), t.dim(3)};
      } else {
        need_ndim(Part::LokrW2A, 2, 2);
        need_ndim(Part::LokrW2B, 2, 4);
        if (m.get(Part::LokrW2A).dim(1) != m.get(Part::LokrW2B).dim(0))
          fail("{}: rank mismatch: '{}' {} vs '{}' {}", file, key(Part::LokrW2A), shp(Part::LokrW2A),
               key(Part::LokrW2B), shp(Part::LokrW2B));
        w2 = {m.get(Part::LokrW2A).dim(0), tail_numel(m.get(Part::LokrW2B).shape())};
      }
      Shape s = {w1[0] * w2[0], w1[1] * w2[1]};
      if (w2.size() == 4) s.insert(s.end(), {w2[2], w2[3]});
      return s;
    }
    case Algo::Diff: return m.has(Part::Diff) ? m.get(Part::Diff).shape() : Shape{};
    case Algo::Norm: return m.has(Part::WNorm) ? m.get(Part::WNorm).shape() : Shape{};
    case Algo::IA3: return {};
  }
  return {};
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

void validate_module(const ModuleTensors& m, const std::string& file, const std::string& weight_name,
                     const Shape& w, const Shape& b) {
  Shape s = natural_shape(m, file);
  std::string first = m.keys.begin()->second;
  if (has_weight_delta(m) && m.algo != Algo::IA3 && !fits(s, w))
    fail("{}: '{}' gives a delta of shape {} that does not fit weight '{}' of shape {}", file, first, shape_str(s),
         weight_name, shape_str(w));
  if (m.algo == Algo::IA3) {
    bool on_input = m.has(Part::OnInput);
    int64_t want = on_input ? (w.size() > 1 ? w[1] : 0) : w[0];
    if (m.get(Part::IA3).numel() != want)
      fail("{}: '{}' has shape {}, expected {} values ({} of weight '{}' {})", file, m.keys.at(Part::IA3),
           shape_str(m.get(Part::IA3).shape()), want, on_input ? "input columns" : "output rows", weight_name,
           shape_str(w));
  }
  if (m.dora) {
    Part p = m.has(Part::Magnitude) ? Part::Magnitude : Part::DoraScale;
    const Tensor& mag = m.get(p);
    bool out_axis = p == Part::Magnitude ? mag.numel() == w[0] : (mag.dim(0) == w[0] && mag.numel() == w[0]);
    bool in_axis = p == Part::DoraScale && w.size() > 1 && mag.numel() == w[1] && mag.dim(0) == 1;
    if (!out_axis && !in_axis)
      fail("{}: '{}' has shape {}, expected [{}] / [{}, 1, …] (per output) or [1, {}, …] (per input) for weight '{}' {}",
           file, m.keys.at(p), shape_str(mag.shape()), w[0], w[0], w.size() > 1 ? w[1] : 0, weight_name, shape_str(w));
  }
  if (has_bias_delta(m)) {
    for (Part p : {Part::DiffB, Part::BNorm, Part::UpBias}) {
      if (!m.has(p)) continue;
      if (b.empty())
        fail("{}: '{}' changes a bias but layer '{}' has none", file, m.keys.at(p), weight_name);
      if (m.get(p).numel() != shape_numel(b))
        fail("{}: '{}' has shape {} that does not fit the bias of '{}' of shape {}", file, m.keys.at(p),
             shape_str(m.get(p).shape()), weight_name, shape_str(b));
    }
  }
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
