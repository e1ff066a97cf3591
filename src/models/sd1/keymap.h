// Name mapping between the original LDM single-file checkpoint keys (CompVis/Stability "ldm" code) and
// the diffusers / transformers names lorastack uses internally, for the UNet, the VAE and the text encoder.
//
// The mapping is the one documented in refsuite/README.md §3.2 (derived from the module layout of
// ldm/modules/diffusionmodules/openaimodel.py and diffusers' UNet2DConditionModel / AutoencoderKL).
// Every function maps names *without* the component prefix (see kUNetPrefix etc.) and works on module
// paths as well as parameter names ("down_blocks.0.attentions.0.proj_in" maps like
// "down_blocks.0.attentions.0.proj_in.weight"), so LoRA key aliasing can use it.
// A name that is not part of the layout maps to "" (no exception).
#pragma once

#include <map>
#include <string>

#include "models/sd1/config.h"
#include "runtime/tensor.h"

namespace ls::sd {

inline constexpr const char* kUNetPrefix = "model.diffusion_model.";             ///< LDM UNet prefix
inline constexpr const char* kVAEPrefix = "first_stage_model.";                  ///< LDM VAE prefix
inline constexpr const char* kTextPrefix = "cond_stage_model.transformer.";      ///< SD1 (HF CLIP) text encoder
inline constexpr const char* kOpenClipPrefix = "cond_stage_model.model.";        ///< SD2 (OpenCLIP) text encoder

/// diffusers UNet name ("down_blocks.1.resnets.0.conv1.weight") → LDM name without kUNetPrefix
/// ("input_blocks.4.0.in_layers.2.weight"). Needs `cfg.layers_per_block`, `cfg.block_out_channels.size()`
/// and `cfg.cross_attn` (to place up-block upsamplers). Returns "" for names outside the layout.
std::string unet_diffusers_to_ldm(const std::string& name, const UNetConfig& cfg);
/// Inverse of unet_diffusers_to_ldm. Returns "" for names outside the layout.
std::string unet_ldm_to_diffusers(const std::string& name, const UNetConfig& cfg);

/// diffusers AutoencoderKL name ("decoder.up_blocks.0.resnets.0.conv1.weight") → LDM name without
/// kVAEPrefix ("decoder.up.3.block.0.conv1.weight"); needs `cfg.block_out_channels.size()`. The mid-block
/// attention projections map to `mid.attn_1.{q,k,v,proj_out}`, whose LDM weights are 1×1 convs
/// [C, C, 1, 1] where diffusers has Linear [C, C] (see vae_is_attention_projection). "" if unknown.
std::string vae_diffusers_to_ldm(const std::string& name, const VAEConfig& cfg);
/// Inverse of vae_diffusers_to_ldm (produces the current diffusers spellings). "" if unknown.
std::string vae_ldm_to_diffusers(const std::string& name, const VAEConfig& cfg);
/// True for diffusers VAE names `{encoder,decoder}.mid_block.attentions.0.{to_q,to_k,to_v,to_out.0}.weight`
/// (stored [C, C, 1, 1] in LDM files, [C, C] in diffusers).
bool vae_is_attention_projection(const std::string& diffusers_name);
/// Old diffusers VAE attention names (query/key/value/proj_attn) → current ones (to_q/to_k/to_v/to_out.0).
std::string vae_modernize_name(const std::string& diffusers_name);

/// SD1 text encoder: name without kTextPrefix ("text_model.encoder.layers.0.mlp.fc1.weight", or the old
/// form without "text_model.") → transformers name with the "text_model." prefix.
std::string text_ldm_to_diffusers(const std::string& name);
/// transformers text encoder name ("text_model.…") → LDM name without kTextPrefix (identity).
std::string text_diffusers_to_ldm(const std::string& name);

/// SD2: OpenCLIP text tower tensors (keys without kOpenClipPrefix: "transformer.resblocks.{i}.attn.in_proj_weight",
/// "positional_embedding", "token_embedding.weight", "ln_final.*", ...) → transformers CLIPTextModel names with
/// "text_model." prefix. The fused in_proj weight [3H, H] / bias [3H] is split into q, k, v (rows 0..H-1,
/// H..2H-1, 2H..3H-1; views, no copy). `text_projection` and `logit_scale` are not part of the text model and
/// are reported in `ignored`. All layers are kept (SD2 uses the penultimate one; the text encoder handles that).
/// Throws ls::Error naming `file` if an in_proj tensor has a shape that is not [3H, H] / [3H].
std::map<std::string, Tensor> openclip_to_hf(const std::map<std::string, Tensor>& openclip, const std::string& file,
                                             std::vector<std::string>* ignored);

}  // namespace ls::sd
