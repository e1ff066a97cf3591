// `lorastack lora resize`: change the rank of a LoRA / LoCon adapter by SVD, keeping its scale
// (kohya-ss sd-scripts networks/resize_lora.py; lora-formats.md §5).
//
// Per module: ΔL = up·down (flattened past dim 1), SVD ΔL = U·S·Vt, keep r′ singular triplets:
// up′ = U[:, :r′]·diag(S[:r′]), down′ = Vt[:r′] (conv: down′ [r′, in, kh, kw], up′ [out, r′, 1, 1]), and
// alpha′ = (alpha / r)·r′ so that alpha′/r′ = alpha/r: the module's scale is unchanged and at r′ = r the delta is
// reproduced up to rounding.
// Rank r′: fixed (`rank`, or `conv_rank` for modules with a spatial kernel), or dynamic with `rank` as the upper
// bound (the definitions of lora-formats.md §5, which are those of current sd-scripts):
//  * sv_ratio P:      r′ = #{σᵢ > σ₀ / P};
//  * sv_cumulative P: the smallest r′ with Σ_{i<r′} σᵢ ≥ P·Σ σᵢ;
//  * sv_fro P:        the smallest r′ with Σ_{i<r′} σᵢ² ≥ P²·Σ σᵢ² (‖ΔL′‖_F ≥ P·‖ΔL‖_F);
// r′ ≥ 1, r′ ≤ min(the bound, the module's current rank); a zero module (σ₀ ≤ 1e-6) keeps rank 1.
// (Older sd-scripts versions added 1 to the dynamic ranks and clamped to len(S) − 1; that off-by-one is not
// reproduced.)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace ls::toolbox {

enum class DynamicMethod { None, SvRatio, SvFro, SvCumulative };
/// "" / "none", "sv_ratio", "sv_fro", "sv_cumulative"; throws ls::Error naming the value otherwise.
DynamicMethod parse_dynamic_method(const std::string& s);

/// The rank kept for singular values `S` (descending) under `method` with parameter `param` (see the header
/// comment), bounded by `max_rank` and S.size(). Throws ls::Error when param is not positive (sv_ratio: ≥ 1;
/// sv_fro / sv_cumulative: in (0, 1]).
int64_t choose_rank(const std::vector<double>& S, int64_t max_rank, DynamicMethod method, double param);

struct ResizeOptions {
  int64_t rank = 0;       ///< new rank (dynamic: the upper bound); ≥ 1
  int64_t conv_rank = 0;  ///< for modules with a kh×kw > 1 kernel; 0 = same as rank
  DynamicMethod method = DynamicMethod::None;
  double param = 0.0;
  DType dtype = DType::F32;  ///< storage dtype of the written factors (kohya's default save precision is float)
};

struct ResizeReport {
  int modules = 0;
  std::map<int64_t, int> new_ranks;  ///< rank → modules
  double mean_fro_retained = 0;      ///< mean over modules of ‖ΔL′‖_F / ‖ΔL‖_F
  double min_fro_retained = 1;
};

/// Resize every module of `in` (LoRA / LoCon; any spelling) and write `out` with kohya names. Metadata is kept;
/// ss_network_dim / ss_network_alpha are updated ("Dynamic" for dynamic ranks), ss_training_comment notes the
/// resize and sshs_model_hash / sshs_legacy_hash are recomputed. Throws ls::Error as
/// convert_adapter does, and for bad options.
ResizeReport resize_adapter(const std::string& in, const ResizeOptions& opts, const std::string& out);

}  // namespace ls::toolbox
