// Parameter inventories of the SD1.x / SD2.x components (diffusers / transformers names and shapes) and
// `lorastack model init`: a model with seeded random weights, written as an LDM single file or a
// diffusers folder.
//
// The inventories follow diffusers' UNet2DConditionModel / AutoencoderKL and transformers' CLIPTextModel
// module layout (read as reference; checked against refsuite/model/tiny-sd1 key sets in tests/io).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/sd1/config.h"
#include "models/sd1/loader.h"
#include "runtime/tensor.h"

namespace ls::sd {

/// Ordered list of (diffusers name, shape) of every UNet parameter for `cfg`
/// (conv weights [out, in, kh, kw], Linear weights [out, in]; proj_in/proj_out are [C, C, 1, 1] unless
/// cfg.use_linear_projection). Throws ls::Error if cfg is inconsistent (empty blocks, heads mismatch).
std::vector<std::pair<std::string, Shape>> unet_param_shapes(const UNetConfig& cfg);
/// Every AutoencoderKL parameter (diffusers names; mid attention projections are Linear [C, C]).
std::vector<std::pair<std::string, Shape>> vae_param_shapes(const VAEConfig& cfg);
/// Every CLIPTextModel parameter, names with the "text_model." prefix (no position_ids buffer).
std::vector<std::pair<std::string, Shape>> text_param_shapes(const CLIPTextConfig& cfg);

/// Architecture presets for `model init`.
/// SD1 / SD2: the real sizes. Tiny: a few-MB SD1 layout for tests. Emoji: the embedded default's pixel-space
/// layout (issue 9): 64×64 RGB diffused directly (pixel "VAE" with patch 1), a 4-level UNet (64/128/128/128,
/// cross-attention at 16² and 8²), a 4-layer width-128 CLIP text encoder, DDPM's linear betas.
enum class InitArch { SD1, SD2, Tiny, Emoji };
/// Parse "sd1" | "sd2" | "tiny" | "emoji"; throws ls::Error naming the value otherwise.
InitArch init_arch_from_name(const std::string& s);

/// The configs of one model (what `model init` writes and `load_model` reads back).
struct ModelConfigs {
  UNetConfig unet;
  VAEConfig vae;
  CLIPTextConfig text;
  SchedulerConfig scheduler;
};
/// Preset configs: SD1.5 (context 768, 8 heads, ViT-L/14 text tower), SD2.x base (context 1024, head dim 64,
/// linear proj_in/out, 1024-wide 24-layer gelu text tower padded with 0), or the refsuite tiny-sd1 sizes
/// (refsuite/README.md §3).
ModelConfigs preset_configs(InitArch arch);

/// The configs an LDM yaml describes (v1-inference.yaml style: model.params.unet_config / first_stage_config /
/// cond_stage_config.params.tiny_text_config / linear_start, linear_end, timesteps, parameterization). The
/// text encoder is SD1's ViT-L/14 (or SD2's OpenCLIP ViT-H when context_dim is 1024 / linear proj) unless
/// tiny_text_config gives its sizes. Implemented in loader.cpp with the yaml reader load_model uses.
/// Throws ls::Error naming `path` when unreadable or when the UNet or VAE section is missing.
ModelConfigs configs_from_yaml(const std::string& path);

/// Random weights for every parameter of `cfg`, keyed by diffusers names, F32, deterministic for `seed`:
/// weights ~ N(0, 1/fan_in) (fan_in = in × kh × kw), biases 0, norm gamma 1 / beta 0, embeddings N(0, 0.02²).
/// Layers that feed a residual sum (resnet conv2, proj_out, to_out.0, ff.net.2, mlp.fc2, out_proj) are scaled
/// by 0.5 so activations stay O(1) (tiny preset: UNet eps std ≈ 0.65, VAE decode std ≈ 0.55 for N(0,1) input).
struct InitWeights {
  std::map<std::string, Tensor> unet, vae, text;
};
InitWeights init_weights(const ModelConfigs& cfg, uint64_t seed);

/// A LoadedModel holding init_weights(cfg, seed) in memory (F32; family SD2 when cross_attention_dim is
/// 1024, else SD1): what benchmarks and fuzzers build components from without writing a file.
LoadedModel random_model(const ModelConfigs& cfg, uint64_t seed);

/// `lorastack model init` backend. `out` ending in ".safetensors": one LDM-keyed single file (F16 by
/// default, `dtype` otherwise; plus cond_stage_model.transformer.text_model.embeddings.position_ids I64 [1, P]).
/// Any other `out`: a diffusers folder (model_index.json, unet/, vae/, text_encoder/ with config.json and
/// safetensors weights, scheduler/scheduler_config.json). The tokenizer/ folder is *not* written
/// (the tokenizer files are supplied separately). Throws ls::Error naming `out` on write failures.
void write_initialized_model(const ModelConfigs& cfg, uint64_t seed, const std::string& out, DType dtype = DType::F16);

/// Write the weights `w` (diffusers names, any float dtype) of a model with configs `cfg` as write_initialized_model
/// does (LDM single file for ".safetensors", else a diffusers folder), `metadata` in the single file's header
/// (folders: in each component's safetensors). Used by `model init` and by full fine-tuning (train --network full).
void write_model(const ModelConfigs& cfg, const InitWeights& w, const std::string& out, DType dtype = DType::F16,
                 const std::map<std::string, std::string>& metadata = {});

}  // namespace ls::sd
