// Private to src/runtime: the forward-only implementations of the op set (runtime/ops.cpp). The public
// ops in runtime/ops.h (runtime/ops_grad.cpp) call these and, while an autograd tape records, add the
// op's adjoint to it. Signatures and contracts are those of ops.h.
#pragma once

#include <vector>

#include "runtime/cpu/kernels.h"
#include "runtime/tensor.h"

namespace ls::ops::fwd {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, float alpha);
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding, int groups);
Tensor upsample_nearest2x(const Tensor& x);
Tensor pad_right_bottom(const Tensor& x, int right, int bottom);
Tensor group_norm(const Tensor& x, int groups, const Tensor& gamma, const Tensor& beta, float eps, bool silu);
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);
Tensor silu(const Tensor& x);
Tensor gelu(const Tensor& x);
Tensor quick_gelu(const Tensor& x);
Tensor geglu(const Tensor& x);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float s);
Tensor axpby(float a, const Tensor& x, float b, const Tensor& y);
Tensor softmax(const Tensor& x);
Tensor cat(const std::vector<Tensor>& xs, int dim);
std::vector<Tensor> chunk(const Tensor& x, int n, int dim);
Tensor permute(const Tensor& x, const std::vector<int>& perm);
Tensor nchw_to_nlc(const Tensor& x);
Tensor nlc_to_nchw(const Tensor& x, int64_t h, int64_t w);
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal);
Tensor embedding(const Tensor& table, const Tensor& ids);
Tensor timestep_embedding(const Tensor& t, int dim, bool flip_sin_to_cos, float freq_shift, float max_period);

/// How `b` broadcasts onto `a` for add/sub/mul (cpu::Bcast; `inner` = H·W for PerChannel). Throws ls::Error.
cpu::Bcast broadcast_of(const char* op, const Tensor& a, const Tensor& b, int64_t& inner);

}  // namespace ls::ops::fwd
