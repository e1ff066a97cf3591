// The CUDA backend of ls::ops (runtime/ops.h), compiled only when LORASTACK_HAS_CUDA is defined
// (cmake/Cuda.cmake). Host-only C++ interface: no CUDA headers, so tensor.cpp and ops.cpp include it freely.
//
// Model: one current GPU (set_device), the legacy default stream for every kernel, cuBLAS call and copy, so
// host ↔ device copies are ordered after the work that produced their source. Device memory comes from a
// caching allocator keyed by (rounded) size: a freed block is kept for the next allocation of that size, so the
// steady state of a denoising loop does no cudaMalloc. Nothing here touches the GPU until first used, so a
// CUDA build loads and runs the CPU suite on a machine without one.
//
// Compute dtypes: F32 (fp32 mode: cuBLAS without TF32, every product in fp32), F16 and BF16 (16-bit storage,
// fp32 accumulation in GEMMs; softmax and norm statistics in fp32). Op functions take validated shapes from
// runtime/ops.cpp; inputs may sit on the CPU (they are uploaded) and in another float dtype (converted to
// the op's compute dtype: that of the weight for linear/conv2d, else of the first CUDA input). Outputs are
// CUDA tensors of the compute dtype. Errors throw ls::Error naming the op / CUDA call and the CUDA message.
#pragma once

#ifdef LORASTACK_HAS_CUDA

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cpu/kernels.h"
#include "runtime/tensor.h"

namespace ls::cuda {

// ---- device and memory (memory.cpp) ----

/// Number of usable CUDA devices (0 when there is no driver or no GPU; never throws).
int device_count();
/// Make GPU `index` current for this process (cudaSetDevice). Throws ls::Error naming the index when
/// there is no such device. Call before the first CUDA tensor is made.
void set_device(int index);
/// "NVIDIA H200 (sm_90, 139.8 GiB)" for the current device. Throws when there is none.
std::string device_name();
/// A block of at least `bytes` device bytes from the caching allocator (Storage::device = CUDA).
/// Throws ls::Error naming the size when the GPU is out of memory (after releasing the cache once).
std::shared_ptr<Storage> alloc(size_t bytes);
/// Release every cached (free) block back to the driver.
void empty_cache();
/// Bytes handed out and not yet returned; peak of that since start (or since reset_peak).
size_t bytes_in_use();
size_t peak_bytes();
void reset_peak();
/// Synchronous copies (legacy default stream): host → device, device → host, device → device.
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_on_device(void* dst, const void* src, size_t bytes);
/// 2-D device copy: `rows` rows of `row_bytes` bytes with the given pitches (cudaMemcpy2D).
void copy_2d(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t row_bytes, size_t rows);
void memset_zero(void* dst, size_t bytes);
/// Wait for all queued GPU work; throws on a pending asynchronous error.
void synchronize();
/// Convert `n` elements between F32, F16 and BF16 on the device (throws for other dtypes).
void convert(const void* src, DType from, void* dst, DType to, int64_t n);

// ---- ops (ops.cpp): shapes already validated by runtime/ops.cpp ----

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, float alpha);
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const cpu::ConvShape& s);
Tensor upsample_nearest2x(const Tensor& x);
Tensor pad_right_bottom(const Tensor& x, int right, int bottom);
Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps, bool silu);
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);
Tensor unary(cpu::Unary f, const Tensor& x);
Tensor geglu(const Tensor& x);
/// a ∘ b with b laid out per `mode` (cpu::Bcast; `inner` = H·W for PerChannel).
Tensor binary(cpu::Binary op, cpu::Bcast mode, const Tensor& a, const Tensor& b, int64_t inner);
/// In place a += b; `a` must already be a CUDA tensor.
void add_(Tensor& a, const Tensor& b, cpu::Bcast mode, int64_t inner);
Tensor scale(const Tensor& x, float s);
Tensor axpby(float a, const Tensor& x, float b, const Tensor& y);
Tensor softmax(const Tensor& x);
Tensor cat(const std::vector<Tensor>& xs, int dim, const Shape& out_shape);
std::vector<Tensor> chunk(const Tensor& x, int n, int dim);
Tensor permute(const Tensor& x, const std::vector<int>& perm, const Shape& out_shape);
/// Per sample transpose [rows, cols] → [cols, rows] (nchw_to_nlc / nlc_to_nchw).
Tensor transpose_batched(const Tensor& x, int64_t batch, int64_t rows, int64_t cols, const Shape& out_shape);
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal);
/// table on CUDA (or uploaded), ids I64/I32 on the CPU (range-checked there, then uploaded).
Tensor embedding(const Tensor& table, const Tensor& ids);

/// Attention kernel choice for F16 / BF16: the fused flash kernel (default; flash_attention.cu, FlashAttention-2 on
/// mma.sync) or batched GEMMs + softmax (env LORASTACK_ATTENTION=gemm at start, or this setter). F32 always uses
/// the GEMM path (exact fp32 products); so do head sizes the flash kernel does not cover (> 160).
void set_flash_attention(bool on);
bool flash_attention_enabled();

/// Convolution backend (cudnn_conv.cpp) for conv2d and its two gradients. Auto (default): per (direction, dtype,
/// shape) the first call times cuDNN (the algorithm its search found fastest) against im2col + cuBLAS once and
/// keeps the faster; Cudnn: cuDNN whenever it can run the shape; Im2col: never cuDNN. Builds without cuDNN
/// (LORASTACK_HAS_CUDNN unset) or machines where it fails to load always use im2col. Env LORASTACK_CONV =
/// auto | cudnn | im2col at start. conv_backend() names what is available ("cuDNN 9.19.0", or "im2col + cuBLAS
/// (reason)"); it creates the cuDNN handle on first call.
enum class ConvMode { Auto, Cudnn, Im2col };
void set_conv_mode(ConvMode m);
ConvMode conv_mode();
std::string conv_backend();

// ---- gradients (backward.cu / backward.cpp) ----
// The CUDA side of runtime/ops_backward.h (same math and shapes; runtime/ops_backward.cpp validates and dispatches
// here when an input is on the GPU). Compute dtype: that of the first CUDA tensor among the op's inputs in the
// order of the parameter list (gy first where there is one), F32/F16/BF16; other inputs are uploaded / converted.
// Every output (parameter gradients included: conv weight, gamma, beta, embedding table) is a CUDA tensor of the
// compute dtype; all reductions (bias / gamma / beta sums, weight gradients over the batch, attention dK / dV over
// query chunks) accumulate in fp32 (norm statistics in double) and round once at the end.

/// x viewed as [numel/cols, cols] → [cols] (column sums).
Tensor sum_leading(const Tensor& x, int64_t cols);
/// x viewed as [numel/inner, inner] → row sums; shape: x's leading dims when inner is the product of its trailing
/// dims, [1] when inner = numel, else [numel/inner].
Tensor sum_trailing(const Tensor& x, int64_t inner);
/// ∂L/∂x of conv2d (s: the forward geometry): gy [n, o, oh, ow], weight [o, c/groups, kh, kw] → [n, c, h, w].
Tensor conv2d_backward_input(const Tensor& gy, const Tensor& weight, const cpu::ConvShape& s);
/// ∂L/∂W of conv2d: gy [n, o, oh, ow], x [n, c, h, w] → [o, c/groups, kh, kw].
Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const cpu::ConvShape& s);
/// gy [N, C, 2H, 2W] → [N, C, H, W] (2×2 block sums).
Tensor upsample_nearest2x_backward(const Tensor& gy);
/// Top-left h×w of every plane: [N, C, H, W] → [N, C, h, w].
Tensor crop(const Tensor& x, int64_t h, int64_t w);
/// {gx [N, C, *], ggamma [C], gbeta [C]} of group_norm (with the fused SiLU when `silu`).
std::vector<Tensor> group_norm_backward(const Tensor& gy, const Tensor& x, int groups, const Tensor& gamma,
                                        const Tensor& beta, float eps, bool silu);
/// {gx, ggamma [C], gbeta [C]} of layer_norm over the last dim.
std::vector<Tensor> layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& gamma, float eps);
/// gy · f′(x) for SiLU / GELU (erf) / QuickGELU.
Tensor unary_backward(cpu::Unary f, const Tensor& x, const Tensor& gy);
/// Adjoint of geglu: x [..., 2C], gy [..., C] → [..., 2C].
Tensor geglu_backward(const Tensor& x, const Tensor& gy);
/// Adjoint of the last-dim softmax from its output y: y ⊙ (gy − Σ gy·y).
Tensor softmax_backward(const Tensor& y, const Tensor& gy);
/// {gq, gk, gv} of attention(q, k, v, heads, causal): per sample and query chunk, the probabilities are recomputed
/// (S = QKᵀ, fp32 softmax) and dV += PᵀdO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale, dQ = dS·K,
/// dK += dSᵀQ through cuBLAS (heads as the GEMM batch), dK / dV accumulated in fp32.
std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& go, int heads,
                                       bool causal);
/// gy [..., C], ids [...] (I64/I32 on the CPU; range-checked, then uploaded) → [vocab, C] (fp32 atomics).
Tensor embedding_backward(const Tensor& gy, const Tensor& ids, int64_t vocab);
/// One AdamW step in place (ops_backward.h): param, m, v F32 CUDA tensors of one shape, grad F32/F16/BF16 of that
/// shape (uploaded if on the CPU). Throws ls::Error naming the tensor otherwise, or for step < 1.
void adamw_step(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, float lr, float beta1, float beta2, float eps,
                float weight_decay, int64_t step);

// ---- dense linear algebra (linalg.cpp, cuSOLVER) ----

/// Thin SVD A = U·diag(S)·Vt of the row-major m×n double matrix `a` (k = min(m, n)) on the current GPU with
/// cuSOLVER's QR-based gesvd: U row-major m×k, S k descending, Vt row-major k×n (host buffers, resized here).
/// Throws ls::Error naming the call when cuSOLVER fails or does not converge.
void svd(const std::vector<double>& a, int64_t m, int64_t n, std::vector<double>& U, std::vector<double>& S,
         std::vector<double>& Vt);

/// True when any of the defined tensors lives on the GPU.
inline bool any(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && t->device() == Device::CUDA) return true;
  return false;
}

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
