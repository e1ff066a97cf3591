// AdamW, 8-bit AdamW and Prodigy (train/optimizer.h).
#include "train/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/autograd.h"
#include "runtime/error.h"
#include "runtime/ops_backward.h"

namespace ls::train {
namespace {

Tensor scalar(double v) { return Tensor::from_vector({1}, {static_cast<float>(v)}); }

const Tensor& state_at(const std::map<std::string, Tensor>& s, const std::string& key, const Shape& shape) {
  auto it = s.find(key);
  if (it == s.end()) fail("resume: optimizer state has no '{}'", key);
  if (it->second.shape() != shape)
    fail("resume: optimizer state '{}' has shape {}, expected {}", key, shape_str(it->second.shape()), shape_str(shape));
  return it->second;
}

/// Shared bookkeeping: parameters, names, step count.
class Base : public Optimizer {
 public:
  Base(const OptimizerOptions& o, std::vector<Tensor*> p, std::vector<std::string> n)
      : o_(o), params_(std::move(p)), names_(std::move(n)) {}

 protected:
  /// The gradient of parameter i as F32 on the parameter's device (undefined when it got none).
  Tensor grad_of(size_t i) const {
    Tensor g = autograd::grad(*params_[i]);
    if (!g.defined()) return g;
    return g.dtype() == DType::F32 ? g : g.to(DType::F32);
  }
  void clear_grads() {
    for (Tensor* p : params_) autograd::zero_grad(*p);
  }
  OptimizerOptions o_;
  std::vector<Tensor*> params_;
  std::vector<std::string> names_;
  int64_t step_ = 0;
};

class AdamW : public Base {
 public:
  using Base::Base;
  void step(float lr) override {
    if (m_.empty())
      for (Tensor* p : params_) {
        m_.push_back(Tensor::zeros(p->shape(), DType::F32, p->device()));
        v_.push_back(Tensor::zeros(p->shape(), DType::F32, p->device()));
      }
    ++step_;
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor g = grad_of(i);
      if (g.defined()) ops::adamw_step(*params_[i], g, m_[i], v_[i], lr, o_.beta1, o_.beta2, o_.eps, o_.weight_decay, step_);
    }
    clear_grads();
  }
  std::map<std::string, Tensor> state() const override {
    std::map<std::string, Tensor> s{{"step", scalar(static_cast<double>(step_))}};
    for (size_t i = 0; i < m_.size(); ++i) {
      s[names_[i] + ".exp_avg"] = m_[i].to_device(Device::CPU);
      s[names_[i] + ".exp_avg_sq"] = v_[i].to_device(Device::CPU);
    }
    return s;
  }
  void load_state(const std::map<std::string, Tensor>& s) override {
    step_ = static_cast<int64_t>(state_at(s, "step", {1}).f32()[0]);
    m_.clear();
    v_.clear();
    if (step_ == 0) return;
    for (size_t i = 0; i < params_.size(); ++i) {
      m_.push_back(state_at(s, names_[i] + ".exp_avg", params_[i]->shape()).to(DType::F32).clone().to_device(params_[i]->device()));
      v_.push_back(state_at(s, names_[i] + ".exp_avg_sq", params_[i]->shape()).to(DType::F32).clone().to_device(params_[i]->device()));
    }
  }

 private:
  std::vector<Tensor> m_, v_;
};

/// Parameters updated on the host: download, update in fp32, upload in place.
class HostBase : public Base {
 public:
  using Base::Base;
  void step(float lr) override {
    ++step_;
    begin(lr);
    std::vector<Tensor> hp(params_.size()), hg(params_.size());
    for (size_t i = 0; i < params_.size(); ++i) {
      const Tensor g = grad_of(i);
      if (!g.defined()) continue;
      hg[i] = g.to_device(Device::CPU);
      hp[i] = params_[i]->device() == Device::CPU ? *params_[i] : params_[i]->to_device(Device::CPU);
    }
    update(lr, hp, hg);
    for (size_t i = 0; i < params_.size(); ++i)
      if (hp[i].defined() && params_[i]->device() != Device::CPU) params_[i]->copy_(hp[i]);
    clear_grads();
  }

 protected:
  virtual void begin(float) {}
  /// Update every defined hp[i] (CPU F32, written in place) from hg[i].
  virtual void update(float lr, std::vector<Tensor>& hp, const std::vector<Tensor>& hg) = 0;
};

class AdamW8bit : public HostBase {
 public:
  using HostBase::HostBase;
  static constexpr int64_t kBlock = 256;

  std::map<std::string, Tensor> state() const override {
    std::map<std::string, Tensor> s{{"step", scalar(static_cast<double>(step_))}};
    for (size_t i = 0; i < st_.size(); ++i) {
      s[names_[i] + ".m_q"] = st_[i].mq;
      s[names_[i] + ".v_q"] = st_[i].vq;
      s[names_[i] + ".m_scale"] = st_[i].ms;
      s[names_[i] + ".v_scale"] = st_[i].vs;
    }
    return s;
  }
  void load_state(const std::map<std::string, Tensor>& s) override {
    step_ = static_cast<int64_t>(state_at(s, "step", {1}).f32()[0]);
    st_.clear();
    if (step_ == 0) return;
    for (size_t i = 0; i < params_.size(); ++i) {
      const int64_t n = params_[i]->numel(), blocks = (n + kBlock - 1) / kBlock;
      st_.push_back({state_at(s, names_[i] + ".m_q", {n}).clone(), state_at(s, names_[i] + ".v_q", {n}).clone(),
                     state_at(s, names_[i] + ".m_scale", {blocks}).clone(),
                     state_at(s, names_[i] + ".v_scale", {blocks}).clone()});
    }
  }

 private:
  struct Moments {
    Tensor mq, vq, ms, vs;  // I8 [n], U8 [n], F32 [blocks] ×2
  };
  void update(float lr, std::vector<Tensor>& hp, const std::vector<Tensor>& hg) override {
    if (st_.empty())
      for (Tensor* p : params_) {
        const int64_t n = p->numel(), blocks = (n + kBlock - 1) / kBlock;
        st_.push_back({Tensor::zeros({n}, DType::I8), Tensor::zeros({n}, DType::U8), Tensor::zeros({blocks}),
                       Tensor::zeros({blocks})});
      }
    const double bc1 = 1.0 - std::pow(static_cast<double>(o_.beta1), static_cast<double>(step_));
    const double bc2 = 1.0 - std::pow(static_cast<double>(o_.beta2), static_cast<double>(step_));
    for (size_t i = 0; i < hp.size(); ++i) {
      if (!hp[i].defined()) continue;
      Moments& s = st_[i];
      float* p = hp[i].data<float>();
      const float* g = hg[i].data<float>();
      int8_t* mq = s.mq.data<int8_t>();
      uint8_t* vq = s.vq.data<uint8_t>();
      float* ms = s.ms.data<float>();
      float* vs = s.vs.data<float>();
      const int64_t n = hp[i].numel();
      float m[kBlock], r[kBlock];  // r = √v
      for (int64_t b0 = 0, bi = 0; b0 < n; b0 += kBlock, ++bi) {
        const int64_t len = std::min(kBlock, n - b0);
        float mmax = 0.0f, rmax = 0.0f;
        for (int64_t j = 0; j < len; ++j) {
          const int64_t e = b0 + j;
          const float mo = mq[e] / 127.0f * ms[bi], ro = vq[e] / 255.0f * vs[bi];
          m[j] = o_.beta1 * mo + (1.0f - o_.beta1) * g[e];
          const float v = o_.beta2 * ro * ro + (1.0f - o_.beta2) * g[e] * g[e];
          r[j] = std::sqrt(v);
          mmax = std::max(mmax, std::abs(m[j]));
          rmax = std::max(rmax, r[j]);
          const double mh = m[j] / bc1, vh = v / bc2;
          p[e] = static_cast<float>(p[e] * (1.0 - static_cast<double>(lr) * o_.weight_decay) -
                                    lr * mh / (std::sqrt(vh) + o_.eps));
        }
        ms[bi] = mmax;
        vs[bi] = rmax;
        for (int64_t j = 0; j < len; ++j) {
          mq[b0 + j] = static_cast<int8_t>(mmax > 0 ? std::lround(m[j] / mmax * 127.0f) : 0);
          vq[b0 + j] = static_cast<uint8_t>(rmax > 0 ? std::lround(r[j] / rmax * 255.0f) : 0);
        }
      }
    }
  }
  std::vector<Moments> st_;
};

class Prodigy : public HostBase {
 public:
  using HostBase::HostBase;
  float d() const override { return static_cast<float>(d_); }
  std::map<std::string, Tensor> state() const override {
    std::map<std::string, Tensor> s{{"step", scalar(static_cast<double>(step_))}, {"d", scalar(d_)},
                                    {"d_max", scalar(d_max_)}, {"d_numerator", scalar(d_num_)}};
    for (size_t i = 0; i < st_.size(); ++i)
      for (const char* k : {"exp_avg", "exp_avg_sq", "s", "p0"}) s[names_[i] + "." + k] = st_[i].at(k);
    return s;
  }
  void load_state(const std::map<std::string, Tensor>& s) override {
    step_ = static_cast<int64_t>(state_at(s, "step", {1}).f32()[0]);
    d_ = state_at(s, "d", {1}).f32()[0];
    d_max_ = state_at(s, "d_max", {1}).f32()[0];
    d_num_ = state_at(s, "d_numerator", {1}).f32()[0];
    st_.clear();
    if (step_ == 0) return;
    for (size_t i = 0; i < params_.size(); ++i) {
      std::map<std::string, Tensor> m;
      for (const char* k : {"exp_avg", "exp_avg_sq", "s", "p0"})
        m[k] = state_at(s, names_[i] + "." + k, params_[i]->shape()).to(DType::F32).clone();
      st_.push_back(std::move(m));
    }
  }

 private:
  static constexpr double kD0 = 1e-6;
  void update(float lr, std::vector<Tensor>& hp, const std::vector<Tensor>& hg) override {
    if (st_.empty())
      for (Tensor* p : params_) {
        std::map<std::string, Tensor> m;
        m["exp_avg"] = Tensor::zeros(p->shape());
        m["exp_avg_sq"] = Tensor::zeros(p->shape());
        m["s"] = Tensor::zeros(p->shape());
        m["p0"] = p->to_device(Device::CPU).to(DType::F32).clone();
        st_.push_back(std::move(m));
      }
    const double b1 = o_.beta1, b2 = o_.beta2, b3 = std::sqrt(b2);
    const double d = d_, dlr = d * lr;
    double d_num = d_num_ * b3, d_den = 0.0;
    for (size_t i = 0; i < hp.size(); ++i) {
      if (!hp[i].defined()) continue;
      auto& s = st_[i];
      const float* p = hp[i].data<float>();
      const float* g = hg[i].data<float>();
      float* ea = s["exp_avg"].data<float>();
      float* es = s["exp_avg_sq"].data<float>();
      float* sv = s["s"].data<float>();
      const float* p0 = s["p0"].data<float>();
      double dot = 0.0;
      for (int64_t e = 0; e < hp[i].numel(); ++e) {
        dot += static_cast<double>(g[e]) * (p0[e] - p[e]);
        ea[e] = static_cast<float>(ea[e] * b1 + d * (1 - b1) * g[e]);
        es[e] = static_cast<float>(es[e] * b2 + d * d * (1 - b2) * g[e] * g[e]);
        sv[e] = static_cast<float>(sv[e] * b3 + (d / kD0) * dlr * g[e]);
        d_den += std::abs(sv[e]);
      }
      d_num += (d / kD0) * dlr * dot;
    }
    if (d_den > 0.0) {
      // prodigyopt: d = min(d_max, d·growth_rate) with growth_rate = ∞, i.e. d follows the running max of d̂
      d_max_ = std::max(d_max_, d_num / d_den);
      d_ = d_max_;
    }
    d_num_ = d_num;
    for (size_t i = 0; i < hp.size(); ++i) {
      if (!hp[i].defined()) continue;
      auto& s = st_[i];
      float* p = hp[i].data<float>();
      const float* ea = s["exp_avg"].data<float>();
      const float* es = s["exp_avg_sq"].data<float>();
      for (int64_t e = 0; e < hp[i].numel(); ++e) {
        const double denom = std::sqrt(static_cast<double>(es[e])) + d_ * o_.eps;
        if (o_.weight_decay != 0.0f) p[e] = static_cast<float>(p[e] - o_.weight_decay * dlr * p[e]);
        p[e] = static_cast<float>(p[e] - dlr * ea[e] / denom);
      }
    }
  }
  double d_ = kD0, d_max_ = kD0, d_num_ = 0.0;
  std::vector<std::map<std::string, Tensor>> st_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, std::vector<Tensor*> params,
                                          std::vector<std::string> names) {
  if (params.size() != names.size()) fail("make_optimizer: {} parameters but {} names", params.size(), names.size());
  if (options.name == "adamw") return std::make_unique<AdamW>(options, std::move(params), std::move(names));
  if (options.name == "adamw8bit") return std::make_unique<AdamW8bit>(options, std::move(params), std::move(names));
  if (options.name == "prodigy") return std::make_unique<Prodigy>(options, std::move(params), std::move(names));
  fail("--optimizer '{}': expected adamw, adamw8bit or prodigy", options.name);
}

}  // namespace ls::train
