// Reverse-mode automatic differentiation for the op set (runtime/ops.h): a per-thread tape, the llm.c /
// PyTorch-eager shape.
//
//   ls::autograd::Tape tape;                 // ops on tensors that require grad now record here
//   lora_down.set_requires_grad(true);       // leaves the trainer updates
//   Tensor loss = ops::sum_trailing(ops::mul(d, d), d.numel());
//   ls::autograd::backward(loss);            // walks the tape backwards once, then clears it
//   Tensor g = ls::autograd::grad(lora_down);
//
// Inference pays nothing: while no Tape is alive (or inside NoGrad) ops do not look at gradients at all.
// Every op of ops.h records except timestep_embedding (its input, the timestep, is never trained) and the
// in-place add_ (which throws when it would overwrite a recorded tensor). Views (reshape, narrow0), dtype
// casts (to) and device copies (to_device) record too, so mixed precision works by casting F32 master
// weights to F16/BF16 inside the recorded graph. Gradients of leaves accumulate across backward calls
// (gradient accumulation) until zero_grad. checkpoint() trades compute for memory (Chen et al. 2016,
// "Training Deep Nets with Sublinear Memory Cost"; torch.utils.checkpoint with use_reentrant=False).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "runtime/tensor.h"

namespace ls::autograd {

/// Gradient bookkeeping of one tensor identity (shared by copies of a Tensor handle; views get their own).
struct Meta {
  bool requires_grad = false;
  bool leaf = true;    ///< made by set_requires_grad (a trainable input), not by a recorded op
  Tensor grad;         ///< accumulated ∂L/∂tensor (leaves keep it; intermediates drop it once used)
  const void* tape = nullptr;  ///< internal: the tape that recorded the op making it (null for leaves)
  size_t node = 0;             ///< internal: that op's index on the tape
  uint64_t generation = 0;     ///< internal: the tape's generation then (each backward starts a new one)
};

/// The gradient function of one recorded op: ∂L/∂output → ∂L/∂input for each input (undefined where the
/// input needs none). Captures whatever the op saved for backward (inputs, outputs, shapes).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

/// While alive, this thread's ops whose inputs require grad record onto it. Tapes nest (the innermost is
/// current); one tape per thread is the normal case. Destroying a tape drops what it recorded.
class Tape {
 public:
  Tape();
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  /// Number of recorded ops (for tests and memory reports).
  size_t size() const;
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Disables recording on this thread while alive (inference inside a training loop, sample images).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

/// True when a tape is current on this thread and recording is not disabled.
bool recording();
/// True when recording() and at least one defined input requires grad: the test ops.cpp runs per op.
bool needs_grad(std::initializer_list<const Tensor*> inputs);

/// Record `output` as produced from `inputs` by an op whose adjoint is `fn` (called with ∂L/∂output, it
/// returns one gradient per input, in order, each of that input's shape; undefined = none). Marks
/// `output` as requiring grad. Call only when needs_grad(inputs). Inputs this tape recorded before its last
/// backward() count as constants; when no other input requires grad, nothing is recorded.
void record(Tensor& output, const std::vector<Tensor>& inputs, BackwardFn fn);

/// Backpropagate from `root` (any shape) seeded with `grad_root` (default: ones, i.e. ∂L/∂root = 1 for a
/// scalar loss) through the current tape; accumulates into leaves' Meta::grad, then clears the tape.
/// Throws ls::Error when no tape is current, `root` was not recorded on it, or a gradient's shape
/// disagrees with its tensor's.
void backward(const Tensor& root, const Tensor& grad_root = {});

/// ∂L/∂t accumulated so far (undefined if t received none or does not require grad).
Tensor grad(const Tensor& t);
/// Drop t's accumulated gradient.
void zero_grad(const Tensor& t);

/// Gradient checkpointing: y = fn(inputs) runs without recording its inside; during backward, fn runs
/// again on a nested tape to recompute what its ops saved, then backpropagates through it. Leaves used
/// inside fn (trainable weights) receive their gradients then. fn must be deterministic.
/// Outside recording() this is just fn(inputs).
Tensor checkpoint(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs);

}  // namespace ls::autograd
