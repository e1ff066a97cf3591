// Optimizers over the trainable leaves of a Network, reading gradients from the autograd tape
// (autograd::grad) and writing parameters in place (side paths keep pointing at them).
//  * adamw — torch.optim.AdamW (Loshchilov & Hutter 2019), on the parameters' device (ops::adamw_step).
//  * adamw8bit — AdamW whose moments are stored in 8 bits per element, block-wise (256 elements) with an
//    absmax scale per block (Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization"; linear
//    codes here, not bitsandbytes' dynamic-tree map): m as int8 of m/absmax, v as uint8 of √v/absmax(√v).
//    Moments are dequantised, updated in fp32 and requantised every step (on the host).
//  * prodigy — Prodigy (Mishchenko & Defazio 2023), prodigyopt 1.0's algorithm with its defaults
//    (β3 = √β2, d0 = 1e-6, d_coef = 1, no bias correction, decoupled weight decay); lr is a multiplier (≈1).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace ls::train {

struct OptimizerOptions {
  std::string name = "adamw";  ///< adamw | adamw8bit | prodigy
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 1e-2f;  ///< torch AdamW default 0.01; prodigy default 0
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// Apply one update with learning rate `lr` from each parameter's accumulated gradient (parameters without
  /// one are skipped), then clear the gradients.
  virtual void step(float lr) = 0;
  /// Everything needed to resume bit-exactly ("<param name>.<state>", plus scalars as [1] tensors), CPU.
  virtual std::map<std::string, Tensor> state() const = 0;
  /// Restore state() output; throws ls::Error naming a missing or mis-shaped key.
  virtual void load_state(const std::map<std::string, Tensor>& s) = 0;
  /// Prodigy's current step-size estimate d (1 for the others), for the progress line.
  virtual float d() const { return 1.0f; }
};

/// The optimizer `options.name` over `params` (named for state keys). Throws ls::Error for an unknown name.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, std::vector<Tensor*> params,
                                          std::vector<std::string> names);

}  // namespace ls::train
