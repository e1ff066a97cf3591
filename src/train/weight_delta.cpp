// Trainable module parameters and merged weights (train/weight_delta.h).
#include "train/weight_delta.h"

#include <cmath>

#include "runtime/error.h"
#include "runtime/autograd.h"
#include "runtime/ops.h"

namespace ls::train {
namespace {

Tensor uniform_fan_in(const Shape& s, std::mt19937_64& gen) {  // kaiming_uniform_(a = √5)
  int64_t fan_in = 1;
  for (size_t i = 1; i < s.size(); ++i) fan_in *= s[i];
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  std::uniform_real_distribution<float> u(-bound, bound);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = u(gen);
  return t;
}

Tensor gaussian(const Shape& s, float stddev, std::mt19937_64& gen) {
  std::normal_distribution<float> n(0.0f, stddev);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = n(gen);
  return t;
}

/// kron(a [p, q], b [r, s]) = [p·r, q·s] as outer product + permute (every step recorded).
Tensor kron(const Tensor& a, const Tensor& b) {
  const int64_t p = a.dim(0), q = a.dim(1), r = b.dim(0), s = b.dim(1);
  Tensor outer = ops::matmul(a.reshape({p * q, 1}), b.reshape({1, r * s}));  // [(p, q), (r, s)]
  return ops::permute(outer.reshape({p, q, r, s}), {0, 2, 1, 3}).reshape({p * r, q * s});
}

}  // namespace

std::pair<int64_t, int64_t> lokr_factorization(int64_t dim, int factor) {
  if (factor > 0 && dim % factor == 0) {
    int64_t m = factor, n = dim / factor;
    return m > n ? std::pair{n, m} : std::pair{m, n};
  }
  const int64_t limit = factor < 0 ? dim : factor;
  int64_t m = 1, n = dim;
  while (m < n) {
    int64_t nm = m + 1;
    while (dim % nm != 0) ++nm;
    const int64_t nn = dim / nm;
    if (nm + nn > m + n || nm > limit) break;
    m = nm;
    n = nn;
  }
  return m > n ? std::pair{n, m} : std::pair{m, n};
}

void init_module(TrainModule& m, NetworkType type, int lokr_factor, std::mt19937_64& gen) {
  const Shape& ws = m.target->base.shape();
  const int64_t out = ws[0], in = ws[1], r = m.rank;
  const int64_t kk = ws.size() == 4 ? ws[2] * ws[3] : 1;
  switch (type) {
    case NetworkType::LoRA:
    case NetworkType::LoCon: {
      Shape down = ws.size() == 4 ? Shape{r, in, ws[2], ws[3]} : Shape{r, in};
      Shape up = ws.size() == 4 ? Shape{out, r, 1, 1} : Shape{out, r};
      m.tensors["lora_down.weight"] = uniform_fan_in(down, gen);
      m.tensors["lora_up.weight"] = Tensor::zeros(up);
      break;
    }
    case NetworkType::LoHa:
      m.tensors["hada_w1_a"] = gaussian({out, r}, 0.1f, gen);
      m.tensors["hada_w1_b"] = gaussian({r, in * kk}, 1.0f, gen);
      m.tensors["hada_w2_a"] = Tensor::zeros({out, r});
      m.tensors["hada_w2_b"] = gaussian({r, in * kk}, 1.0f, gen);
      break;
    case NetworkType::LoKr: {
      const auto [om, on] = lokr_factorization(out, lokr_factor);
      const auto [im, in_n] = lokr_factorization(in, lokr_factor);
      m.rank = static_cast<int>(std::min<int64_t>(r, std::min(on, in_n * kk)));
      m.tensors["lokr_w1"] = uniform_fan_in({om, im}, gen);
      m.tensors["lokr_w2_a"] = uniform_fan_in({on, m.rank}, gen);
      m.tensors["lokr_w2_b"] = Tensor::zeros({m.rank, in_n * kk});
      break;
    }
    case NetworkType::DoRA: {
      Shape down = ws.size() == 4 ? Shape{r, in, ws[2], ws[3]} : Shape{r, in};
      Shape up = ws.size() == 4 ? Shape{out, r, 1, 1} : Shape{out, r};
      m.tensors["lora_down.weight"] = uniform_fan_in(down, gen);
      m.tensors["lora_up.weight"] = Tensor::zeros(up);
      // magnitude = ‖W‖ per output row, so W′ = W at step 0 (PEFT / LyCORIS wd_on_out init)
      const Tensor w = m.target->base.to_device(Device::CPU).to(DType::F32);
      Shape ms(ws.size(), 1);
      ms[0] = out;
      Tensor mag = Tensor::empty(ms);
      const int64_t k = w.numel() / out;
      for (int64_t o = 0; o < out; ++o) {
        double n2 = 0;
        for (int64_t c = 0; c < k; ++c) n2 += static_cast<double>(w.f32()[o * k + c]) * w.f32()[o * k + c];
        mag.f32()[o] = static_cast<float>(std::sqrt(n2));
      }
      m.tensors["dora_scale"] = mag;
      break;
    }
    case NetworkType::Full:
      break;
  }
}

Tensor merged_weight(const TrainModule& m, NetworkType type, const Tensor& w) {
  const float scale = m.alpha / static_cast<float>(m.rank);
  Tensor delta;
  if (type == NetworkType::LoHa) {
    delta = ops::mul(ops::matmul(m.tensors.at("hada_w1_a"), m.tensors.at("hada_w1_b")),
                     ops::matmul(m.tensors.at("hada_w2_a"), m.tensors.at("hada_w2_b")));
  } else if (type == NetworkType::LoKr) {
    const Tensor w2 = ops::matmul(m.tensors.at("lokr_w2_a"), m.tensors.at("lokr_w2_b"));
    // w2 [out_n, in_n·kh·kw]: the kernel stays innermost, so W's flattening (in, kh, kw) = (in_m, in_n, kh, kw)
    delta = kron(m.tensors.at("lokr_w1"), w2);
  } else if (type == NetworkType::DoRA) {
    // DoRA (Liu et al. 2024, eq. 5; PEFT's variant): V = W + (α/r)·up·down, W′ = m ⊙ V / ‖V‖_row with the norm
    // treated as a constant in backward (the paper's §4.3 memory saving; PEFT detaches it too)
    const int64_t out = w.dim(0), k = w.numel() / out;
    const Tensor& up = m.tensors.at("lora_up.weight");
    const Tensor& down = m.tensors.at("lora_down.weight");
    const Tensor v = ops::add(w.reshape({out, k}),
                              ops::scale(ops::matmul(up.reshape({out, up.numel() / out}), down.reshape({down.dim(0), k})), scale));
    Tensor inv_norm;
    {
      autograd::NoGrad ng;
      const Tensor vd = v.detach();
      inv_norm = ops::sum_trailing(ops::mul(vd, vd), k).to_device(Device::CPU).to(DType::F32);
    }
    for (float& x : inv_norm.f32()) x = 1.0f / std::sqrt(x);
    const Tensor coef = ops::mul(m.tensors.at("dora_scale").reshape({out}), inv_norm.to_device(v.device()));
    return ops::mul(v.reshape({1, out, k, 1}), coef.reshape({1, out})).reshape(w.shape());
  } else {
    fail("merged_weight: {} is not a weight-delta network", network_type_name(type));
  }
  return ops::add(w, ops::scale(delta.reshape(w.shape()), scale));
}

}  // namespace ls::train
