// Dense linear algebra the toolbox needs: thin SVD through LAPACK (LAPACKE_dgesdd, double precision) and
// torch.quantile-style quantiles. Nothing here is hand-written numerics beyond bookkeeping.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/tensor.h"

namespace ls::toolbox {

/// Thin SVD A = U·diag(S)·Vt of a row-major m×n matrix, k = min(m, n). U is m×k, Vt is k×n (row-major),
/// S descending and ≥ 0. Computed in double precision by LAPACK's divide-and-conquer driver dgesdd.
struct SVD {
  int64_t m = 0, n = 0, k = 0;
  std::vector<double> U, S, Vt;
};

/// SVD of `a` viewed as [a.dim(0), numel / a.dim(0)] (any float dtype; conv weights flatten past dim 0), in double
/// precision on the device set by set_svd_device: LAPACK dgesdd on the CPU, cuSOLVER dgesvd on CUDA.
/// Throws ls::Error when the matrix is empty, holds NaN/Inf, or the solver reports non-convergence.
SVD svd(const Tensor& a);

/// Where svd() runs for this thread (default CPU): `lora extract / resize / merge --device cuda`. Throws ls::Error
/// for CUDA in a build without the CUDA backend.
void set_svd_device(Device d);

/// The rank-`r` factors of an SVD, as kohya's resize_lora / extract_lora_from_models write them:
/// up = U[:, :r]·diag(S[:r]) → F32 [m, r], down = Vt[:r, :] → F32 [r, n]. Requires 1 ≤ r ≤ k.
void truncate(const SVD& s, int64_t r, Tensor& up, Tensor& down);

/// The q-quantile (0 ≤ q ≤ 1) of `values` with linear interpolation between order statistics
/// (torch.quantile's default): sorted[q·(n−1)] interpolated. Throws ls::Error on an empty input.
double quantile(std::vector<float> values, double q);

/// up·down as F32 [up.dim(0), down.numel()/down.dim(0)] (up viewed as [out, r], down as [r, −1]); any float dtypes.
Tensor lowrank_product(const Tensor& up, const Tensor& down);

}  // namespace ls::toolbox
