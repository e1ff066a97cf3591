// `lorastack lora extract`: a LoRA from the difference of two checkpoints of the same layout
// (kohya-ss sd-scripts networks/extract_lora_from_models.py; lora-formats.md §5).
//
// For every adaptable weight W (the modules kohya's LoRA network targets: UNet Transformer2DModel Linear / 1×1
// conv layers — attn1/attn2 to_q/k/v/out.0, ff.net.0.proj, ff.net.2, proj_in/proj_out — plus, with a conv rank,
// every Linear/conv of ResnetBlock2D, Downsample2D and Upsample2D; text encoder self_attn q/k/v/out_proj and
// mlp fc1/fc2): ΔW = W_tuned − W_base (F32); modules with max|ΔW| < min_diff are skipped; otherwise
// SVD ΔW = U·S·Vt flattened past dim 1, r = min(rank, out, in·kh·kw) (conv_rank for kernels > 1×1),
// up = U[:, :r]·diag(S[:r]), down = Vt[:r]; with clamp_quantile q < 1 both are clamped to ±the q-quantile of
// their joined values (torch.quantile, linear interpolation); alpha = r (scale 1).
// Differences from kohya: min_diff is applied per module (kohya decides per text encoder whether to extract it
// at all and always extracts the UNet).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/tensor.h"

namespace ls::toolbox {

struct ExtractOptions {
  int64_t rank = 4;              ///< rank of Linear and 1×1 conv modules (≥ 1)
  int64_t conv_rank = 0;         ///< rank of kh×kw > 1 conv modules; 0 = not extracted
  double clamp_quantile = 0.99;  ///< in (0, 1]; 1 = no clamping
  double min_diff = 0.01;        ///< modules whose largest |ΔW| is below this are skipped
  std::string base_config, tuned_config;  ///< optional LDM yaml per model (as `--config`)
  DType dtype = DType::F32;      ///< storage dtype of the written factors
};

struct ExtractReport {
  int modules = 0;       ///< written
  int unet_modules = 0, te_modules = 0;
  int skipped = 0;       ///< below min_diff
  std::string family;
};

/// Load both models (sd::load_model), extract every differing module and write `out` (kohya names, alpha tensors,
/// ss_* metadata with sshs_model_hash and sshs_legacy_hash). Throws ls::Error when a model does not load, the families or a weight's
/// shapes differ (naming the weight), the options are out of range, or no module differs by min_diff.
ExtractReport extract_lora(const std::string& base, const std::string& tuned, const ExtractOptions& opts,
                           const std::string& out);

}  // namespace ls::toolbox
