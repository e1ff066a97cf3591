// A1111's "Original" emphasis applied to one chunk's text-encoder output (modules/sd_emphasis.py
// EmphasisOriginal, read as reference): z ← z·w_token, then z ← z·(mean(z_before) / mean(z_after)).
#pragma once

#include <vector>

#include "runtime/tensor.h"

namespace ls::text {

/// z [1, L, D] F32 CPU, multipliers [L] → weighted z with the overall mean restored (means accumulated in
/// double, rounded to float as torch's mean). Unchanged (same tensor) when every multiplier is 1. Throws
/// ls::Error when the shapes disagree.
Tensor apply_emphasis(const Tensor& z, const std::vector<float>& multipliers);

}  // namespace ls::text
