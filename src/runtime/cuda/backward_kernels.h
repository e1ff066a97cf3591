// Raw-pointer launchers of the gradient kernels (backward.cu), called by runtime/cuda/backward.cpp. Same
// conventions as runtime/cuda/kernels.h: legacy default stream, contiguous row-major data, `dt` the element type
// of the data pointers, fp32 arithmetic (double for norm statistics), check_launch after each launch. Scratch
// buffers are device memory the caller allocates (sizes given per function). Included by nvcc-compiled C++17:
// no fmt, no runtime/tensor.h. Math: the adjoints listed in runtime/ops_backward.h.
#pragma once

#ifdef LORASTACK_HAS_CUDA

#include <cstdint>

#include "runtime/cuda/kernels.h"

namespace ls::cuda::k {

// ---- reductions ----

/// Number of row splits (and so floats of scratch per column: splits·cols) column_sum uses for rows × cols.
int64_t column_sum_splits(int64_t rows, int64_t cols);
/// out[c] = Σ_r x[r, c] for x [rows, cols]; fp32 accumulation, deterministic (partial sums per row split in
/// `scratch`, splits·cols floats, then summed in split order). out has dtype `dt_out`.
void column_sum(Elem dt, const void* x, Elem dt_out, void* out, int64_t rows, int64_t cols, float* scratch);
/// Number of splits per row row_sum uses (scratch: rows·splits floats).
int64_t row_sum_splits(int64_t rows, int64_t cols);
/// out[r] = Σ_c x[r, c] for x [rows, cols]; fp32 accumulation, deterministic. `scratch`: rows·splits floats.
void row_sum(Elem dt, const void* x, void* out, int64_t rows, int64_t cols, float* scratch);

// ---- convolution / resampling ----

/// Adjoint of im2col (gather form, no atomics): for `count` samples, x[s, ci, iy, ix] (sample stride x_stride
/// elements, dtype dt) = Σ over the kernel taps that read (iy, ix) of col[s, (ci·kh + ky)·kw + kx, oy·ow + ox]
/// (col: fp32 [count, c·kh·kw, oh·ow]). Overwrites x's c planes.
void col2im(Elem dt, const float* col, void* x, int64_t x_stride, int64_t count, int64_t c, int64_t h, int64_t w,
            int64_t kh, int64_t kw, int64_t oh, int64_t ow, int stride, int pad);
/// y[p, o] += bias[p % channels] for y viewed as [planes, inner] (the per-channel bias of conv2d).
void add_channel_bias(Elem dt, void* y, const void* bias, int64_t planes, int64_t channels, int64_t inner);
/// gx[p, y, x] = Σ of the 2×2 block gy[p, 2y.., 2x..]: gy [planes, 2h, 2w] → gx [planes, h, w].
void upsample_nearest2x_backward(Elem dt, const void* gy, void* gx, int64_t planes, int64_t h, int64_t w);
/// y[p, :h, :w] = x[p, :h, :w] of x [planes, H, W] (h ≤ H, w ≤ W).
void crop(Elem dt, const void* x, void* y, int64_t planes, int64_t H, int64_t W, int64_t h, int64_t w);

// ---- normalisation ----

/// Gradients of group_norm (optionally fused SiLU) for x, gy [n, c, hw]: gx (dtype dt), ggamma, gbeta [c]
/// (dtype dt). gamma, beta [c] (dtype dt). `scratch`: 4·n·c + 4·n·groups doubles.
void group_norm_backward(Elem dt, const void* gy, const void* x, const void* gamma, const void* beta, void* gx,
                         void* ggamma, void* gbeta, int64_t n, int64_t c, int64_t hw, int groups, float eps, bool silu,
                         double* scratch);
/// Gradients of layer_norm over rows of c: gx (dt), ggamma, gbeta [c] (dt). `stats`: 2·rows floats; `scratch`:
/// 2·column_sum_splits(rows, c)·c floats.
void layer_norm_backward(Elem dt, const void* gy, const void* x, const void* gamma, void* gx, void* ggamma,
                         void* gbeta, int64_t rows, int64_t c, float eps, float* stats, float* scratch);

// ---- activations ----

/// gx = gy · f′(x) for SiLU, exact-erf GELU, QuickGELU.
void unary_backward(Elem dt, cpu::Unary f, const void* x, const void* gy, void* gx, int64_t n);
/// Adjoint of geglu: x [rows, 2c], gy [rows, c] → gx [rows, 2c].
void geglu_backward(Elem dt, const void* x, const void* gy, void* gx, int64_t rows, int64_t c);
/// Row-wise adjoint of softmax: gx = scale · y ⊙ (g − Σ_j g_j y_j) over rows × cols; y, g and gx may each be
/// F32 or the compute type (attention keeps dP in fp32). gx may alias g (same dtype).
void softmax_backward(Elem dt_y, Elem dt_g, Elem dt_out, const void* y, const void* g, void* gx, int64_t rows,
                      int64_t cols, float scale);

// ---- embeddings / optimizer ----

/// acc[ids[i], :] += gy[i, :] (fp32 atomics into acc [vocab, c], zeroed by the caller); ids int64 on the device,
/// already range-checked.
void embedding_backward(Elem dt, const void* gy, const int64_t* ids, int64_t n, int64_t c, float* acc);
/// AdamW (torch.optim.AdamW): m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²;
/// p −= lr·wd·p + lr·(m / bc1) / (√(v / bc2) + eps). param, m, v fp32; grad dtype dt.
void adamw(Elem dt, float* param, const void* grad, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, float bc1, float bc2);

}  // namespace ls::cuda::k

#endif  // LORASTACK_HAS_CUDA
