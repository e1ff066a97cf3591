// The op set every model graph is written in. Model code calls only these functions; each dispatches
// on the input's device (CPU today: runtime/cpu/, CUDA later: runtime/cuda/), so a model family is
// written once and runs on every backend.
//
// Conventions: inputs are contiguous F32 tensors on one device unless stated; outputs are new tensors;
// shape mismatches throw ls::Error naming the op and the shapes. PyTorch layouts throughout (NCHW,
// (N, L, C), Linear weight [out, in], Conv2d weight [out, in/groups, kh, kw]), so each op's reference is
// the torch function of the same name.
#pragma once

#include <optional>

#include "runtime/tensor.h"

namespace ls::ops {

// ---- matrix products (GEMM: OpenBLAS on CPU) ----

/// y = x · Wᵀ + b. x [..., in], weight [out, in], bias [out] or undefined → y [..., out].
/// torch.nn.functional.linear.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

/// Batched matrix product. a [B, M, K] (or [B, K, M] if trans_a), b [B, K, N] (or [B, N, K] if trans_b)
/// → alpha · op(a)·op(b) [B, M, N]. 2-D inputs are treated as B = 1 and give a 2-D result.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false, float alpha = 1.0f);

// ---- convolution and resampling ----

/// 2-D convolution: x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or undefined → [N, O, H', W'],
/// H' = (H + 2·pad − kh)/stride + 1. torch.nn.functional.conv2d with symmetric padding.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride = 1, int padding = 0,
              int groups = 1);

/// Nearest-neighbour 2× upsampling: [N, C, H, W] → [N, C, 2H, 2W] (F.interpolate(scale_factor=2, mode="nearest")).
Tensor upsample_nearest2x(const Tensor& x);

/// Zero-pad the right and bottom edges by `right` and `bottom` pixels ([N,C,H,W] → [N,C,H+bottom,W+right]);
/// the asymmetric pad the VAE encoder's downsampler uses (F.pad(x, (0, 1, 0, 1))).
Tensor pad_right_bottom(const Tensor& x, int right, int bottom);

// ---- normalisation ----

/// Group normalisation over (C/groups, H, W) per sample: x [N, C, *], gamma/beta [C] → same shape.
/// Statistics in fp32 (two-pass). If `silu`, applies SiLU to the result (the fused GroupNorm+SiLU).
Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps, bool silu = false);

/// Layer normalisation over the last dimension: x [..., C], gamma/beta [C] → same shape.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);

// ---- activations and element-wise ----

Tensor silu(const Tensor& x);        ///< x·σ(x)
Tensor gelu(const Tensor& x);        ///< exact erf GELU (torch default)
Tensor quick_gelu(const Tensor& x);  ///< x·σ(1.702·x) (CLIP ViT-L/14, SD1 text encoder)
/// GEGLU: x [..., 2C] split in halves (value, gate) → value · gelu(gate) [..., C] (diffusers GEGLU).
Tensor geglu(const Tensor& x);

/// a + b with broadcasting of b over leading dims: shapes equal, or b's shape is a suffix of a's, or b is
/// [N, C] added to a [N, C, H, W] (per-channel time embedding), or b has numel 1.
Tensor add(const Tensor& a, const Tensor& b);
/// a − b, same shapes.
Tensor sub(const Tensor& a, const Tensor& b);
/// a ⊙ b, same broadcasting rules as add.
Tensor mul(const Tensor& a, const Tensor& b);
/// x · s
Tensor scale(const Tensor& x, float s);
/// a·x + b·y element-wise (same shapes): the sampler's workhorse.
Tensor axpby(float a, const Tensor& x, float b, const Tensor& y);
/// In-place a += b (same shapes).
void add_(Tensor& a, const Tensor& b);

/// Softmax over the last dimension.
Tensor softmax(const Tensor& x);

// ---- shape ops (all copy) ----

/// Concatenate along dimension `dim` (all other dims equal).
Tensor cat(const std::vector<Tensor>& xs, int dim);
/// Split `x` into `n` equal chunks along `dim`.
std::vector<Tensor> chunk(const Tensor& x, int n, int dim);
/// General permutation (torch.permute(...).contiguous()).
Tensor permute(const Tensor& x, const std::vector<int>& perm);
/// [N, C, H, W] → [N, H·W, C] (the UNet's proj_in/out reshapes).
Tensor nchw_to_nlc(const Tensor& x);
/// [N, H·W, C] → [N, C, H, W].
Tensor nlc_to_nchw(const Tensor& x, int64_t h, int64_t w);

// ---- reductions ----

/// Sum over leading rows (differentiable): x viewed as [numel/cols, cols] → [cols]. (Bias gradients, suffix broadcasts.)
Tensor sum_leading(const Tensor& x, int64_t cols);
/// Sum over trailing elements (differentiable): x viewed as [numel/inner, inner] → [numel/inner] (keeps x's leading shape
/// when inner is the product of its trailing dims: [N, C, H, W] with inner = H·W → [N, C]). inner = numel → [1].
Tensor sum_trailing(const Tensor& x, int64_t inner);

// ---- attention ----

/// Multi-head scaled dot-product attention.
/// q [B, Lq, H·D], k/v [B, Lk, H·D] → [B, Lq, H·D]; scale 1/√D; if `causal`, position i attends to j ≤ i.
/// Equal to torch.nn.functional.scaled_dot_product_attention after splitting heads.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal = false);

// ---- embeddings ----

/// Row gather: table [V, C], ids (I64 or I32) [...] → [..., C]. Throws on ids outside [0, V).
Tensor embedding(const Tensor& table, const Tensor& ids);

/// Sinusoidal timestep embedding (diffusers get_timestep_embedding): t [N] (F32, fractional allowed)
/// → [N, dim]; exponent = −ln(max_period)·i/(half − freq_shift); flip_sin_to_cos puts cos first.
Tensor timestep_embedding(const Tensor& t, int dim, bool flip_sin_to_cos = true, float freq_shift = 0.0f,
                          float max_period = 10000.0f);

// ---- accounting ----

/// Floating-point operations issued so far by the GEMM-like ops (linear, matmul, conv2d, attention),
/// counted as 2·M·N·K per product; for benchmarks' GFLOP/s. Thread-safe.
int64_t flops();
void reset_flops();

// ---- threading ----

/// Number of worker threads the CPU backend uses (default: hardware threads; env LORASTACK_THREADS).
int num_threads();
void set_num_threads(int n);

}  // namespace ls::ops
