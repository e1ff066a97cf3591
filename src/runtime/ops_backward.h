// Gradient kernels of the op set (runtime/ops.h): what runtime/autograd.cpp calls to run an op's backward,
// plus the reductions and the optimizer step the trainer needs. Same conventions as ops.h (contiguous F32
// on the CPU; F32 / F16 / BF16 on CUDA; the op dispatches on the device of its inputs); every function
// here is the adjoint of the forward op named in its comment, so the reference for each is the backward
// PyTorch computes for that forward (torch.autograd). Shape mismatches throw ls::Error naming the op.
#pragma once

#include <vector>

#include "runtime/ops.h"

namespace ls::ops {

// ---- convolution / resampling ----

/// ∂L/∂x of conv2d: gy [N, O, H', W'], weight [O, C/groups, kh, kw] → gx of shape `x_shape` [N, C, H, W].
Tensor conv2d_backward_input(const Tensor& gy, const Tensor& weight, const Shape& x_shape, int stride, int padding,
                             int groups);
/// ∂L/∂W of conv2d: gy [N, O, H', W'], x [N, C, H, W] → gw of shape `w_shape` [O, C/groups, kh, kw].
Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape, int stride, int padding,
                              int groups);
/// Adjoint of upsample_nearest2x: gy [N, C, 2H, 2W] → [N, C, H, W], each output the sum of its 2×2 block.
Tensor upsample_nearest2x_backward(const Tensor& gy);
/// Top-left h×w window of every plane: [N, C, H, W] → [N, C, h, w] (the adjoint of pad_right_bottom).
Tensor crop(const Tensor& x, int64_t h, int64_t w);

// ---- normalisation ----

/// Gradients of group_norm(x, groups, gamma, beta, eps, silu): gy, x [N, C, *] → {gx [N, C, *], ggamma [C],
/// gbeta [C]}. With `silu`, gy is the gradient of the SiLU output (the fused forward).
std::vector<Tensor> group_norm_backward(const Tensor& gy, const Tensor& x, int groups, const Tensor& gamma,
                                        const Tensor& beta, float eps, bool silu);
/// Gradients of layer_norm(x, gamma, beta, eps) over the last dim: → {gx, ggamma [C], gbeta [C]}.
std::vector<Tensor> layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, float eps);

// ---- activations ----

Tensor silu_backward(const Tensor& x, const Tensor& gy);        ///< gy·σ(x)(1 + x(1−σ(x)))
Tensor gelu_backward(const Tensor& x, const Tensor& gy);        ///< gy·(Φ(x) + x·φ(x)), exact erf GELU
Tensor quick_gelu_backward(const Tensor& x, const Tensor& gy);  ///< gy·(s + 1.702·x·s(1−s)), s = σ(1.702x)
/// Adjoint of geglu: x [..., 2C], gy [..., C] → gx [..., 2C] (value half: gy·gelu(gate); gate half:
/// gy·value·gelu′(gate)).
Tensor geglu_backward(const Tensor& x, const Tensor& gy);
/// Adjoint of softmax over the last dim given its output y: gx = y ⊙ (gy − Σ_j gy_j y_j).
Tensor softmax_backward(const Tensor& y, const Tensor& gy);

// ---- attention ----

/// Gradients of attention(q, k, v, heads, causal) given the output's gradient `go` [B, Lq, H·D]:
/// → {gq [B, Lq, H·D], gk [B, Lk, H·D], gv [B, Lk, H·D]}. Recomputes the probabilities tile by tile
/// (FlashAttention-2 backward, Dao 2023), so memory stays O(B·L·H·D) plus one tile of scores per thread.
std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& go,
                                       int heads, bool causal);

// ---- embeddings ----

/// Adjoint of embedding: gy [..., C], ids [...] (I64/I32, CPU) → gtable [vocab, C] (rows scatter-added).
Tensor embedding_backward(const Tensor& gy, const Tensor& ids, int64_t vocab);

// ---- optimizer ----

/// One AdamW step in place (Loshchilov & Hutter 2019, torch.optim.AdamW): for every element,
///   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  p −= lr·(wd·p + (m/(1−β1^step)) / (√(v/(1−β2^step)) + eps)).
/// param, m, v are F32 on one device; grad is F32/F16/BF16 of the same shape (converted). step ≥ 1.
void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, float lr, float beta1, float beta2,
                float eps, float weight_decay, int64_t step);

}  // namespace ls::ops
