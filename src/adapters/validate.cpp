#include "adapters/math.h"

// Shape checks of adapter modules (math.h validate_module): the tensors of a module against each other and
// against the weight and bias they adapt, before anything is computed or written.

namespace ls::adapters {

namespace {

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

// The shape of the module's delta as its tensors describe it (before reshaping onto the weight); {} for IA3 and
// bias-only modules. Throws ls::Error naming the key when the tensors do not fit together.
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

}  // namespace ls::adapters
