// Raw-pointer launchers of the CUDA kernels (kernels.cu), called by runtime/cuda/ops.cpp. All run on the
// legacy default stream; `dt` is the element type of the data pointers. Contiguous row-major data as in
// runtime/cpu/kernels.h. Launch errors throw ls::Error naming the kernel (check_launch after each launch).
// This header is included by nvcc-compiled C++17 code: it must not pull in fmt or runtime/tensor.h.
#pragma once

#ifdef LORASTACK_HAS_CUDA

#include <cstdint>

#include "runtime/cpu/kernels.h"

namespace ls::cuda {
/// Throws ls::Error naming `kernel` when the last launch failed (cudaGetLastError). memory.cpp.
void check_launch(const char* kernel);
}  // namespace ls::cuda

namespace ls::cuda::k {

/// Element types the kernels compute on (the CUDA compute dtypes F32, F16, BF16).
enum class Elem : uint8_t { F32, F16, BF16 };

/// Element conversion src (from) → dst (to), n elements, F32/F16/BF16.
void convert(const void* src, Elem from, void* dst, Elem to, int64_t n);

/// y = f(x) (SiLU, exact-erf GELU, QuickGELU), math in fp32.
void unary(Elem dt, cpu::Unary f, const void* x, void* y, int64_t n);
/// x [rows, 2c] → y [rows, c] = x[:, :c] · gelu(x[:, c:]).
void geglu(Elem dt, const void* x, void* y, int64_t rows, int64_t c);
/// y = a ∘ b, b broadcast per mode (see cpu::binary). y may alias a.
void binary(Elem dt, cpu::Binary op, cpu::Bcast mode, const void* a, const void* b, void* y, int64_t n_a,
            int64_t n_b, int64_t inner);
/// y = a·x + b·z (y may alias x or z).
void axpby(Elem dt, float a, const void* x, float b, const void* z, void* y, int64_t n);
/// y[r, :] = bias[:] for every row (rows × cols), or y[p, :] = bias[p % channels] per plane when
/// per_plane (y viewed as [planes, cols]): the bias pre-fill of linear / conv2d before a GEMM with beta 1.
void fill_rows(Elem dt, const void* bias, void* y, int64_t rows, int64_t cols, bool per_plane, int64_t channels);

/// Group norm: x, y [n, c, hw]; gamma, beta [c] (dtype dt); statistics (Σx, Σx² in double, each group split
/// over several blocks) in `stats`, a device scratch of 2·n·groups doubles; optional SiLU.
void group_norm(Elem dt, const void* x, const void* gamma, const void* beta, void* y, int64_t n, int64_t c,
                int64_t hw, int groups, float eps, bool silu, double* stats);
/// Layer norm of `rows` rows of c; statistics in double.
void layer_norm(Elem dt, const void* x, const void* gamma, const void* beta, void* y, int64_t rows, int64_t c,
                float eps);
/// Row softmax of x (dtype dt_in) scaled by `scale` before the max (y dtype dt_out): rows × cols. If causal,
/// row r is query (r % lq) + q_offset and masks columns > that index.
void softmax(Elem dt_in, Elem dt_out, const void* x, void* y, int64_t rows, int64_t cols, float scale,
             bool causal, int64_t lq, int64_t q_offset);

/// Fused attention (flash_attention.cu) for F16 / BF16: q [b, lq, heads·d], k/v [b, lk, heads·d] → o, scale
/// applied to QKᵀ, causal mask optional; fp32 softmax statistics and accumulation. Returns false (nothing
/// launched) for F32, d > 160 or b·heads > 65535, so the caller falls back to the GEMM path.
bool flash_attention(Elem dt, const void* q, const void* k, const void* v, void* o, int64_t b, int64_t lq, int64_t lk,
                     int64_t heads, int64_t d, bool causal, float scale);

/// Nearest 2× upsample of `planes` h×w planes.
void upsample_nearest2x(Elem dt, const void* x, void* y, int64_t planes, int64_t h, int64_t w);
/// Zero-pad each h×w plane on the right/bottom.
void pad_right_bottom(Elem dt, const void* x, void* y, int64_t planes, int64_t h, int64_t w, int right, int bottom);
/// Per sample [rows, cols] → [cols, rows].
void transpose_batched(Elem dt, const void* x, void* y, int64_t batch, int64_t rows, int64_t cols);
/// General permutation of a contiguous tensor of ndim ≤ 8 dims.
void permute(Elem dt, const void* x, void* y, const int64_t* shape, const int* perm, int ndim, int64_t numel);
/// y[i, :] = table[ids[i], :] (ids int64 on the device, already range-checked).
void embedding(Elem dt, const void* table, int64_t c, const int64_t* ids, int64_t n, void* y);
/// im2col for `count` samples: x [count, c, h, w] (sample stride x_stride elements) → col [count, c·kh·kw, oh·ow].
void im2col(Elem dt, const void* x, int64_t x_stride, void* col, int64_t count, int64_t c, int64_t h, int64_t w,
            int64_t kh, int64_t kw, int64_t oh, int64_t ow, int stride, int pad);

}  // namespace ls::cuda::k

#endif  // LORASTACK_HAS_CUDA
