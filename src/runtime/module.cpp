#include "runtime/module.h"

#include "runtime/autograd.h"

namespace ls {

Param& ParamTable::add(const std::string& name, const Tensor& base) {
  Param& p = params_[name];
  p.name = name;
  p.base = base;
  p.value = base.dtype() == DType::F32 ? base : base.to(DType::F32);
  return p;
}

void Param::set_value(const Tensor& v) {
  if (!v.defined()) fail("{}: set_value with an undefined tensor", name);
  if (base.defined() && v.shape() != base.shape())
    fail("{}: set_value with shape {}, expected {}", name, shape_str(v.shape()), shape_str(base.shape()));
  // convert on the host when leaving the CPU in F32 (cheap, and the upload is then the final bytes)
  Tensor t = v.device() == Device::CPU && device == Device::CPU ? v.to(DType::F32) : v;
  value = t.to_device(device).to(compute);
}

void ParamTable::to_device(Device device, DType compute) {
  if (device == Device::CPU && compute != DType::F32)
    fail("{}: the CPU backend computes in F32, not {}", component_, dtype_name(compute));
  if (compute != DType::F32 && compute != DType::F16 && compute != DType::BF16)
    fail("{}: compute dtype {} is not F32, F16 or BF16", component_, dtype_name(compute));
  for (auto& [name, p] : params_) {
    p.device = device;
    p.compute = compute;
    p.value = p.value.to_device(device).to(compute);
  }
}

int ParamTable::sync_device() {
  int moved = 0;
  for (auto& [name, p] : params_)
    if (p.value.defined() && (p.value.device() != p.device || p.value.dtype() != p.compute)) {
      p.value = p.value.to_device(p.device).to(p.compute);
      ++moved;
    }
  return moved;
}

Param& ParamTable::get(const std::string& name, const Shape& shape) {
  auto it = params_.find(name);
  if (it == params_.end()) {
    if (shape.empty()) fail("{}: missing weight '{}'", component_, name);
    fail("{}: missing weight '{}' (expected shape {})", component_, name, shape_str(shape));
  }
  if (!shape.empty() && it->second.base.shape() != shape)
    fail("{}: weight '{}' has shape {}, expected {}", component_, name, shape_str(it->second.base.shape()),
         shape_str(shape));
  return it->second;
}

const Param& ParamTable::get(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) fail("{}: missing weight '{}'", component_, name);
  return it->second;
}

namespace {
/// y += Σ side paths (in place for inference; out of place while gradients are recorded).
void add_side_paths(Tensor& y, const Tensor& x, const Param& w) {
  const bool rec = autograd::recording();
  for (const auto& s : w.side) {
    Tensor d = s->forward(x, w.spec);
    if (rec) y = ops::add(y, d);
    else ops::add_(y, d);
  }
}
}  // namespace

Linear::Linear(ParamTable& t, const std::string& prefix, int64_t in, int64_t out, bool with_bias) {
  weight = &t.get(prefix + ".weight", {out, in});
  weight->spec = {LayerSpec::Kind::Linear, 1, 0};
  if (with_bias) bias = &t.get(prefix + ".bias", {out});
}

Tensor Linear::operator()(const Tensor& x) const {
  Tensor y = ops::linear(x, weight->value, bias ? bias->value : Tensor{});
  add_side_paths(y, x, *weight);
  return y;
}

Conv2d::Conv2d(ParamTable& t, const std::string& prefix, int64_t in, int64_t out, int k, int stride_, int padding_,
               bool with_bias)
    : stride(stride_), padding(padding_) {
  weight = &t.get(prefix + ".weight", {out, in, k, k});
  weight->spec = {LayerSpec::Kind::Conv2d, stride, padding};
  if (with_bias) bias = &t.get(prefix + ".bias", {out});
}

Tensor Conv2d::operator()(const Tensor& x) const {
  Tensor y = ops::conv2d(x, weight->value, bias ? bias->value : Tensor{}, stride, padding);
  add_side_paths(y, x, *weight);
  return y;
}

GroupNorm::GroupNorm(ParamTable& t, const std::string& prefix, int64_t channels, int groups_, float eps_)
    : groups(groups_), eps(eps_) {
  gamma = &t.get(prefix + ".weight", {channels});
  beta = &t.get(prefix + ".bias", {channels});
}

Tensor GroupNorm::operator()(const Tensor& x, bool silu) const {
  return ops::group_norm(x, groups, gamma->value, beta->value, eps, silu);
}

LayerNorm::LayerNorm(ParamTable& t, const std::string& prefix, int64_t channels, float eps_) : eps(eps_) {
  gamma = &t.get(prefix + ".weight", {channels});
  beta = &t.get(prefix + ".bias", {channels});
}

Tensor LayerNorm::operator()(const Tensor& x) const { return ops::layer_norm(x, gamma->value, beta->value, eps); }

}  // namespace ls
