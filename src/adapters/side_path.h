// Runtime (unfused) low-rank adapter paths: the layer computes its own output with the base weight and adds
// scale·up(down(x)) for each LoRA/LoCon on it (PEFT's unmerged LoRA forward, tuners/lora/layer.py).
#pragma once

#include <memory>

#include "adapters/adapter_file.h"
#include "runtime/module.h"

namespace ls::adapters {

/// A LoRA / LoCon side path.
/// Linear layer: x [..., in] → linear(linear(x, down [r, in]), up [out, r]) · scale → [..., out].
/// Conv2d layer: x [N, in, H, W] → conv2d(conv2d(x, down [r, in, kh, kw], stride, padding), up [out, r, 1, 1]) · scale
/// → [N, out, H', W'] (the down conv uses the base layer's stride and padding; kohya networks/lora.py LoRAModule).
/// The scale (strength · alpha / r) is folded into `up` at construction.
class LoRASidePath : public SidePath {
 public:
  /// down: [r, in] (Linear) or [r, in, kh, kw] (Conv2d); up: [out, r] or [out, r, 1, 1]; any float dtype.
  LoRASidePath(const Tensor& down, const Tensor& up, float scale, LayerSpec::Kind kind);
  Tensor forward(const Tensor& x, const LayerSpec& spec) const override;

 private:
  Tensor down_, up_;  // F32, shaped for `kind`
};

/// The side path of a LoRA / LoCon module `m` at strength `s` on a weight of shape `weight_shape` run by a layer
/// of kind `spec.kind`, or nullptr when this module cannot run unfused there (CP, LoHa, LoKr, IA3, DoRA, diff,
/// a layer of kind Other, or a delta that is only a reshape of the weight, e.g. a flattened 3×3 kernel).
std::shared_ptr<const SidePath> make_side_path(const ModuleTensors& m, const Shape& weight_shape,
                                               const LayerSpec& spec, float s);

}  // namespace ls::adapters
