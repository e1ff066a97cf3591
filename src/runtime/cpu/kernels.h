// CPU kernels behind ls::ops (runtime/ops.h). Raw-pointer interfaces on contiguous row-major F32 data;
// runtime/ops.cpp validates shapes and dtypes, allocates outputs and calls these. Nothing here throws
// except embedding (id range check). Multi-threaded with OpenMP; GEMMs via OpenBLAS cblas_sgemm.
#pragma once

#include <cstdint>

namespace ls::cpu {

// ---- threading (threads.cpp) ----

/// Worker threads for OpenMP regions and OpenBLAS. First call reads env LORASTACK_THREADS (else the
/// hardware thread count) and configures OpenBLAS accordingly.
int threads();
/// Set the worker thread count for OpenMP regions and OpenBLAS (n ≥ 1).
void set_threads(int n);

// ---- GEMM (gemm.cpp) ----

/// C[M,N] = alpha·op(A)·op(B) + beta·C, row-major with leading dimensions lda/ldb/ldc (cblas_sgemm).
/// Uses OpenBLAS threading when called outside an OpenMP parallel region.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

/// Batched product: for each of `batch` matrices, c[M,N] = alpha·op(a)·op(b). a is [M,K] ([K,M] if
/// trans_a), b is [K,N] ([N,K] if trans_b), all contiguous per batch.
void batched_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha,
                    const float* a, const float* b, float* c);

/// y[M,out] = x[M,in]·W[out,in]ᵀ + bias[out] (bias may be null). torch.nn.functional.linear.
void linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t in, int64_t out);

// ---- convolution / resampling (conv.cpp, shape.cpp) ----

/// Geometry of one conv2d call: x [n, c, h, w], weight [o, c/groups, kh, kw] → y [n, o, oh, ow].
struct ConvShape {
  int64_t n, c, h, w, o, kh, kw, oh, ow;
  int stride, pad, groups;
};
/// torch.nn.functional.conv2d (symmetric zero padding); im2col + sgemm in column tiles, direct GEMM for 1×1.
void conv2d(const float* x, const float* weight, const float* bias, float* y, const ConvShape& s);

/// [N·C planes of h×w] → [N·C planes of 2h×2w], nearest neighbour.
void upsample_nearest2x(const float* x, float* y, int64_t planes, int64_t h, int64_t w);
/// Zero-pad each h×w plane on the right/bottom to (h+bottom)×(w+right).
void pad_right_bottom(const float* x, float* y, int64_t planes, int64_t h, int64_t w, int right, int bottom);

// ---- normalisation (norm.cpp) ----

/// Group norm over `groups` contiguous groups of (c/groups)·hw values per sample; y = (x−μ)/√(σ²+eps)·γ+β,
/// statistics in double (two-pass); optional fused SiLU. x, y: [n, c, hw]; gamma, beta: [c].
void group_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t c, int64_t hw,
                int groups, float eps, bool silu);
/// Layer norm of `rows` rows of length c (statistics in double); gamma/beta [c].
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t c, float eps);

// ---- element-wise (elementwise.cpp) ----

enum class Unary { SiLU, GELU, QuickGELU };
/// y = f(x) for n elements.
void unary(Unary f, const float* x, float* y, int64_t n);
/// x [rows, 2c] → y [rows, c] = x[:, :c] · gelu(x[:, c:]).
void geglu(const float* x, float* y, int64_t rows, int64_t c);

enum class Binary { Add, Sub, Mul };
/// How the second operand of a binary op is laid out relative to the first.
enum class Bcast { Same, Suffix, PerChannel, Scalar };
/// y = a ∘ b where b broadcasts per `mode`: Same (n_a elements each), Suffix (b has n_b elements,
/// repeated), PerChannel (a is [n_b, inner], b value per row), Scalar (b has 1 element).
void binary(Binary op, Bcast mode, const float* a, const float* b, float* y, int64_t n_a, int64_t n_b, int64_t inner);
/// y = a·x + b·z over n elements (y may alias x or z).
void axpby(float a, const float* x, float b, const float* z, float* y, int64_t n);
/// Softmax over the last dimension: rows × cols, max-subtracted, fp32.
void softmax(const float* x, float* y, int64_t rows, int64_t cols);

// ---- shape ops (shape.cpp) ----

/// y = permute(x, perm) for a contiguous tensor of `ndim` dims `shape`.
void permute(const float* x, float* y, const int64_t* shape, const int* perm, int ndim);
/// Per sample, transpose [c, l] → [l, c] (nchw_to_nlc); `nlc_to_nchw` is the same with c and l swapped.
void transpose_batched(const float* x, float* y, int64_t batch, int64_t rows, int64_t cols);
/// Copy `outer` blocks of `block` floats from x (stride src_stride) into y (stride dst_stride).
void copy_blocks(const float* x, int64_t src_stride, float* y, int64_t dst_stride, int64_t outer, int64_t block);

// ---- attention (attention.cpp) ----

/// Multi-head SDPA: q [b, lq, heads·d], k/v [b, lk, heads·d] → o [b, lq, heads·d]; scale 1/√d; causal:
/// query i attends to keys j ≤ i. Tiled over queries; never materialises more than a tile of scores.
void attention(const float* q, const float* k, const float* v, float* o, int64_t b, int64_t lq, int64_t lk,
               int64_t heads, int64_t d, bool causal);

// ---- embeddings (embedding.cpp) ----

/// y[i, :] = table[ids[i], :]; ids are int64 (is_i64) or int32. Throws ls::Error on ids outside [0, v).
void embedding(const float* table, int64_t v, int64_t c, const void* ids, bool is_i64, int64_t n, float* y);
/// diffusers get_timestep_embedding in float32: t [n] → y [n, dim].
void timestep_embedding(const float* t, int64_t n, int dim, bool flip_sin_to_cos, float freq_shift,
                        float max_period, float* y);

}  // namespace ls::cpu
