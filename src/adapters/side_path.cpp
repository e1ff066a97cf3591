#include "adapters/side_path.h"

#include "adapters/math.h"
#include "runtime/ops.h"

namespace ls::adapters {

LoRASidePath::LoRASidePath(const Tensor& down, const Tensor& up, float scale, LayerSpec::Kind kind) {
  int64_t r = down.dim(0), out = up.dim(0);
  Tensor d = down.to(DType::F32);
  Tensor u = up.to(DType::F32).clone().reshape({out, r});
  for (float& v : u.f32()) v *= scale;
  if (kind == LayerSpec::Kind::Conv2d) {
    down_ = d.ndim() == 4 ? d : d.reshape({r, d.dim(1), 1, 1});
    up_ = u.reshape({out, r, 1, 1});
  } else {
    down_ = d.reshape({r, d.numel() / r});
    up_ = u;
  }
}

Tensor LoRASidePath::forward(const Tensor& x, const LayerSpec& spec) const {
  if (spec.kind == LayerSpec::Kind::Conv2d) {
    Tensor h = ops::conv2d(x, down_, Tensor{}, spec.stride, spec.padding);
    return ops::conv2d(h, up_, Tensor{}, 1, 0);
  }
  return ops::linear(ops::linear(x, down_), up_);
}

std::shared_ptr<const SidePath> make_side_path(const ModuleTensors& m, const Shape& w, const LayerSpec& spec, float s) {
  if ((m.algo != Algo::LoRA && m.algo != Algo::LoCon) || m.dora) return nullptr;
  const Tensor& down = m.get(Part::Down);
  if (spec.kind == LayerSpec::Kind::Linear) {
    if (w.size() != 2 || down.numel() / down.dim(0) != w[1]) return nullptr;
  } else if (spec.kind == LayerSpec::Kind::Conv2d) {
    if (w.size() != 4) return nullptr;
    bool full = down.ndim() == 4 && down.dim(1) == w[1] && down.dim(2) == w[2] && down.dim(3) == w[3];
    bool pointwise = down.ndim() == 2 && w[2] == 1 && w[3] == 1 && down.dim(1) == w[1];
    if (!full && !pointwise) return nullptr;
  } else {
    return nullptr;
  }
  return std::make_shared<LoRASidePath>(down, m.get(Part::Up), s * module_scale(m), spec.kind);
}

}  // namespace ls::adapters
