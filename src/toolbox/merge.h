// `lorastack lora merge`: adapters into a checkpoint, or several adapters into one
// (kohya-ss sd-scripts networks/merge_lora.py and svd_merge_lora.py as references; lora-formats.md §3, §5).
//
//  * Into a checkpoint: the model's weights become W′ = W + Σᵢ ΔWᵢ(W, sᵢ) exactly as the adapter stack fuses them
//    (adapters/stack.h: every algorithm, each delta from the untouched base, UNet and text-encoder strengths), and
//    the whole model (UNet, VAE, text encoder) is written as an LDM single-file safetensors through the
//    diffusers → LDM name map (models/sd1/keymap.h), so any SD1.x loader reads it.
//  * Several adapters into one, `concat` (exact): per target weight the modules' ranks are concatenated —
//    down = [down₁; down₂; …] (rows), up = [s₁k₁·up₁, s₂k₂·up₂, …] (columns), alpha = total rank — so the
//    result at strength 1 is Σᵢ sᵢ·kᵢ·upᵢ·downᵢ bit for bit up to float rounding. (kohya's merge_lora --concat keeps
//    the first alpha and is not scale-exact; lora-formats.md §5.)
//  * Several adapters into one by SVD to `rank`: ΔW = Σᵢ sᵢ·kᵢ·upᵢ·downᵢ per weight, SVD, up = U·S, down = Vt,
//    alpha = r (svd_merge_lora without its quantile clamp).
//  * Per-block weights (A1111 LoRA Block Weight, adapters/block_weights.h) scale each module's strength by its
//    block's ratio in every mode, so `merge --lora a:1:lbw=OUTD` equals the stack `--lora a:1:lbw=OUTD`.
// LoRA / LoCon modules only for adapter-into-adapter merges (any spelling, mixed spellings allowed).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace ls::toolbox {

/// One adapter to merge with its strengths (unet: UNet modules, te: text-encoder modules).
struct MergeInput {
  std::string path;
  float unet_strength = 1.0f;
  float te_strength = 1.0f;
  /// A1111 LoRA Block Weight preset or 17 / 26 ratios (adapters/block_weights.h); "" = none. Each module's
  /// strength is multiplied by its block's ratio, exactly as the generate stack applies `lbw=`.
  std::string block_weights = {};
};

struct MergeReport {
  std::vector<std::string> adapters;  ///< one summary line per input adapter
  int weights = 0;                    ///< model weights changed (checkpoint) / modules written (adapter)
  int64_t max_rank = 0;               ///< adapter merges: the largest rank written
};

/// Merge `loras` into the SD1.x checkpoint `model` (file or diffusers folder; `config_yaml` as `--config`) and
/// write `out` (.safetensors, LDM keys, metadata "format": "pt" and "lorastack_merged_loras"). Tensors keep their
/// stored dtype unless `dtype` is given. Throws ls::Error when the model or an adapter does not load or fit
/// (adapters::load_adapter messages), for SD2.x / SDXL models (their LDM text-encoder layout is not written yet), or
/// when `out` does not end in .safetensors.
MergeReport merge_into_checkpoint(const std::string& model, const std::string& config_yaml,
                                  const std::vector<MergeInput>& loras, const std::string& out,
                                  std::optional<DType> dtype = std::nullopt);

/// Merge `loras` into one kohya-named adapter `out`: exactly by concatenation when `rank` is 0, else by SVD to
/// `rank` (per module min(rank, out, in·kh·kw)). Factors are written as `dtype`. Throws ls::Error for an empty list,
/// non-LoRA modules, adapters of different layouts (SD1 vs SD2), or shapes that disagree on one weight.
MergeReport merge_adapters(const std::vector<MergeInput>& loras, int64_t rank, const std::string& out,
                           DType dtype = DType::F32);

}  // namespace ls::toolbox
