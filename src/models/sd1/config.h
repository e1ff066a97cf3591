// Configurations of the SD1.x / SD2.x model parts, in diffusers' terms (field names follow the
// diffusers / transformers config.json keys). Filled from a diffusers folder's config.json files, an LDM
// yaml, or inferred from tensor shapes of a single-file checkpoint (models/sd1/loader.h).
#pragma once

#include <string>
#include <vector>

namespace ls::sd {

/// Model family as detected from tensor names and shapes (sd-pitfalls.md "Telling families apart").
enum class Family { SD1, SD2, SDXL, Unknown };
const char* family_name(Family f);  ///< "SD1.x", "SD2.x", "SDXL", "unknown"

/// diffusers UNet2DConditionModel (SD1: block_out_channels 320,640,1280,1280, heads 8, context 768;
/// SD2: heads per block 5,10,20,20 (head dim 64), context 1024, linear proj_in/out).
struct UNetConfig {
  int in_channels = 4;
  int out_channels = 4;
  std::vector<int> block_out_channels{320, 640, 1280, 1280};
  int layers_per_block = 2;
  /// Number of attention heads per down block (diffusers' legacy `attention_head_dim`; an int in the json
  /// means the same count for every block).
  std::vector<int> num_heads{8, 8, 8, 8};
  /// Which down blocks are CrossAttnDownBlock2D (up blocks mirror them).
  std::vector<bool> cross_attn{true, true, true, false};
  int cross_attention_dim = 768;
  bool use_linear_projection = false;  ///< SD2: proj_in/proj_out are Linear, not 1×1 conv
  bool upcast_attention = false;
  int transformer_layers_per_block = 1;
  int norm_num_groups = 32;
  float norm_eps = 1e-5f;
  bool flip_sin_to_cos = true;
  float freq_shift = 0.0f;
  int sample_size = 64;  ///< latent size the model was trained at (informative)
};

/// diffusers AutoencoderKL.
struct VAEConfig {
  int in_channels = 3;
  int out_channels = 3;
  int latent_channels = 4;
  std::vector<int> block_out_channels{128, 256, 512, 512};
  int layers_per_block = 2;  ///< encoder resnets per level; the decoder has layers_per_block + 1
  int norm_num_groups = 32;
  float scaling_factor = 0.18215f;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  int sample_size = 512;
  /// > 0: no autoencoder. The latent is the image rearranged by pixel unshuffle (space-to-depth) with this
  /// patch size p — [N, C, H, W] → [N, C·p², H/p, W/p], channel c·p² + i·p + j holding pixel (p·y + i, p·x + j)
  /// of channel c (torch.nn.functional.pixel_unshuffle's order) — and decoding is the exact inverse. No
  /// weights; latent_channels must be in_channels·p². vae/config.json: {"_class_name": "PixelUnshuffleVAE",
  /// "patch_size": p, ...} (a lorastack class: diffusers has none). For tiny pixel-space models (issue 9),
  /// where a learned autoencoder would cost its own training and blur thin strokes.
  int patch_size = 0;
  /// Image pixels per latent pixel along each side: patch_size, or 2^(levels − 1) for AutoencoderKL.
  int downscale() const;
};

/// transformers CLIPTextModel (SD1: OpenAI CLIP ViT-L/14 text tower; SD2: OpenCLIP ViT-H converted to
/// these names).
struct CLIPTextConfig {
  int vocab_size = 49408;
  int hidden_size = 768;
  int intermediate_size = 3072;
  int num_attention_heads = 12;
  int num_hidden_layers = 12;
  int max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";  ///< "quick_gelu" (SD1) or "gelu" (SD2)
  float layer_norm_eps = 1e-5f;
  int bos_token_id = 49406;
  int eos_token_id = 49407;
  int pad_token_id = 49407;  ///< what prompts are padded with: SD1 pads with EOS, SD2 with 0
};

/// The DDPM training schedule and prediction type (diffusers scheduler_config.json).
struct SchedulerConfig {
  int num_train_timesteps = 1000;
  float beta_start = 0.00085f;
  float beta_end = 0.012f;
  std::string beta_schedule = "scaled_linear";  ///< "scaled_linear" | "linear"
  std::string prediction_type = "epsilon";      ///< "epsilon" | "v_prediction"
  int steps_offset = 1;
  bool set_alpha_to_one = false;
};

}  // namespace ls::sd
