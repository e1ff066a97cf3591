// CPU gradient kernels behind runtime/ops_backward.h. Raw-pointer interfaces on contiguous row-major F32
// data, shapes validated by runtime/ops_backward.cpp; nothing here throws except embedding_backward (ids).
// Sums that produce parameter gradients accumulate in double.
#pragma once

#include <cstdint>

#include "runtime/cpu/kernels.h"

namespace ls::cpu {

/// y[cols] = Σ_r x[r, cols] over `rows` rows.
void sum_leading(const float* x, float* y, int64_t rows, int64_t cols);
/// y[outer] = Σ_i x[outer, i] over `inner` elements.
void sum_trailing(const float* x, float* y, int64_t outer, int64_t inner);

/// col[kk, (oy − oy0)·ow + ox] for output rows [oy0, oy1) of one group's input planes xg [cg, h, w]
/// (shared with the forward convolution, conv.cpp).
void im2col_rows(const float* xg, float* col, const ConvShape& s, int64_t cg, int64_t oy0, int64_t oy1);
/// gx [n, c, h, w] = ∂conv2d/∂x applied to gy [n, o, oh, ow] (GEMM Wᵀ·gy then col2im).
void conv2d_backward_input(const float* gy, const float* weight, float* gx, const ConvShape& s);
/// gw [o, c/groups, kh, kw] = Σ_n gy · im2col(x)ᵀ.
void conv2d_backward_weight(const float* gy, const float* x, float* gw, const ConvShape& s);
/// gx[plane, y, x] = Σ of gy's 2×2 block; gy planes are (2h)×(2w).
void upsample_nearest2x_backward(const float* gy, float* gx, int64_t planes, int64_t h, int64_t w);
/// y planes h×w = top-left window of x planes (h + dh)×(w + dw).
void crop(const float* x, float* y, int64_t planes, int64_t xh, int64_t xw, int64_t h, int64_t w);

/// Group norm adjoint; x, gy, gx: [n, c, hw]; ggamma / gbeta [c].
void group_norm_backward(const float* gy, const float* x, const float* gamma, const float* beta, float* gx,
                         float* ggamma, float* gbeta, int64_t n, int64_t c, int64_t hw, int groups, float eps, bool silu);
/// Layer norm adjoint over rows of length c.
void layer_norm_backward(const float* gy, const float* x, const float* gamma, float* gx, float* ggamma, float* gbeta,
                         int64_t rows, int64_t c, float eps);

/// gx = gy · f′(x) for n elements.
void unary_backward(Unary f, const float* x, const float* gy, float* gx, int64_t n);
/// GEGLU adjoint: x [rows, 2c], gy [rows, c] → gx [rows, 2c].
void geglu_backward(const float* x, const float* gy, float* gx, int64_t rows, int64_t c);
/// Softmax adjoint from its output y: rows × cols.
void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols);

/// Attention adjoint (layout as cpu::attention). gq, gk, gv are fully written.
void attention_backward(const float* q, const float* k, const float* v, const float* go, float* gq, float* gk,
                        float* gv, int64_t b, int64_t lq, int64_t lk, int64_t heads, int64_t d, bool causal);

/// gtable [vocab, c] = scatter-add of gy rows at ids (zeroed first). Throws ls::Error on ids out of range.
void embedding_backward(const float* gy, const void* ids, bool is_i64, int64_t n, int64_t c, int64_t vocab, float* gtable);

/// AdamW update over n elements (runtime/ops_backward.h adamw_step).
void adamw(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
           float weight_decay, int64_t step);

}  // namespace ls::cpu
