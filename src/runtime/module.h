// Parameters and the small layers model graphs are built from.
//
// A model owns a ParamTable: every weight by its canonical name (diffusers / transformers names, e.g.
// "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"). Layers point into the table, so
//  * LoRA fuse mode replaces `Param::value` (W′ = base + Σ ΔW, recomputed from `base`, never by
//    subtracting) and every layer sees the new weight at once;
//  * LoRA runtime mode attaches SidePaths to a Param; the layer adds their outputs to its own;
//  * the trainer finds trainable leaves by name.
// `base` is the tensor as loaded (possibly memory-mapped, possibly F16); `value` is the F32 compute copy
// (or `base` itself when that is already F32 and nothing is fused).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/ops.h"
#include "runtime/tensor.h"

namespace ls {

/// How a parameter's layer applies it; side paths need this to compute their own contribution.
struct LayerSpec {
  enum class Kind { Linear, Conv2d, Other } kind = Kind::Other;
  int stride = 1;
  int padding = 0;
};

/// A runtime adapter contribution to one layer: output delta for input x (same shape as the layer's
/// output), e.g. scale·up(down(x)) for LoRA. Implemented in src/adapters/.
class SidePath {
 public:
  virtual ~SidePath() = default;
  virtual Tensor forward(const Tensor& x, const LayerSpec& spec) const = 0;
};

struct Param {
  std::string name;
  Tensor base;   ///< as loaded (storage dtype, maybe mmapped); never written
  Tensor value;  ///< compute copy on `device` in `compute` dtype (F32 on the CPU); what layers use
  LayerSpec spec;
  std::vector<std::shared_ptr<const SidePath>> side;  ///< runtime adapters on this weight
  Device device = Device::CPU;  ///< where `value` lives (ParamTable::to_device)
  DType compute = DType::F32;   ///< dtype of `value` (F32 on the CPU; F32 / F16 / BF16 on CUDA)

  /// Replace `value` by `v` (any float dtype, any device; typically F32 computed on the CPU from `base`
  /// by a LoRA fuse), copied to this parameter's device and converted to its compute dtype. Throws
  /// ls::Error when `v`'s shape differs from `base`'s or the copy fails (then `value` is unchanged).
  void set_value(const Tensor& v);
};

/// Named parameters of one model component. Lookups of missing names throw ls::Error naming the
/// component, the key and (when given) the expected shape.
class ParamTable {
 public:
  explicit ParamTable(std::string component = "") : component_(std::move(component)) {}

  /// Add a parameter; `value` is made F32 (converted copy unless already F32).
  Param& add(const std::string& name, const Tensor& base);
  bool has(const std::string& name) const { return params_.count(name) != 0; }
  /// The parameter `name`; if `shape` is non-empty, checks it. Throws ls::Error.
  Param& get(const std::string& name, const Shape& shape = {});
  const Param& get(const std::string& name) const;
  std::map<std::string, Param>& all() { return params_; }
  const std::map<std::string, Param>& all() const { return params_; }
  const std::string& component() const { return component_; }
  /// Move every parameter's `value` to `device` in dtype `compute` (F32 on the CPU; F32/F16/BF16 on CUDA)
  /// and record both in the Param, so later set_value / sync_device keep them there. Throws ls::Error
  /// (CUDA unavailable, out of memory, a non-float compute dtype).
  void to_device(Device device, DType compute = DType::F32);
  /// Re-place every `value` that is not on its Param's device / compute dtype (e.g. written on the CPU by
  /// code that does not call set_value). Returns how many were moved.
  int sync_device();

 private:
  std::string component_;
  std::map<std::string, Param> params_;  // node-stable: layers keep Param* into it
};

// ---- layers: thin wrappers over ops that read their weights through Param* ----

struct Linear {
  Param* weight = nullptr;
  Param* bias = nullptr;  ///< may be null
  /// Binds "<prefix>.weight" [out, in] and, if `with_bias`, "<prefix>.bias" [out].
  Linear() = default;
  Linear(ParamTable& t, const std::string& prefix, int64_t in, int64_t out, bool with_bias = true);
  /// x [..., in] → [..., out], plus any side paths.
  Tensor operator()(const Tensor& x) const;
};

struct Conv2d {
  Param* weight = nullptr;
  Param* bias = nullptr;
  int stride = 1, padding = 0;
  Conv2d() = default;
  /// Binds "<prefix>.weight" [out, in, k, k] and "<prefix>.bias" [out].
  Conv2d(ParamTable& t, const std::string& prefix, int64_t in, int64_t out, int k, int stride = 1, int padding = 0,
         bool with_bias = true);
  /// x [N, in, H, W] → [N, out, H', W'], plus any side paths.
  Tensor operator()(const Tensor& x) const;
};

struct GroupNorm {
  Param* gamma = nullptr;
  Param* beta = nullptr;
  int groups = 32;
  float eps = 1e-5f;
  GroupNorm() = default;
  GroupNorm(ParamTable& t, const std::string& prefix, int64_t channels, int groups, float eps);
  Tensor operator()(const Tensor& x, bool silu = false) const;
};

struct LayerNorm {
  Param* gamma = nullptr;
  Param* beta = nullptr;
  float eps = 1e-5f;
  LayerNorm() = default;
  LayerNorm(ParamTable& t, const std::string& prefix, int64_t channels, float eps);
  Tensor operator()(const Tensor& x) const;
};

}  // namespace ls
