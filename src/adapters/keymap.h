// Adapter module key → model parameter, by a *forward* map built from the model's own parameter names
// (as ComfyUI comfy/lora.py model_lora_keys_* does): every parameter "X.weight" of a component yields all
// the spellings adapter files use for it. Underscores are never turned back into dots.
//
// Spellings generated per component (lora-formats.md §1, refsuite README §5):
//  * UNet ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"): kohya `lora_unet_` + X(.→_),
//    `lycoris_` + X(.→_), diffusers/PEFT `unet.` + X, bare X, and the LDM spellings of X
//    (`lora_unet_input_blocks_1_1_…`, `diffusion_model.input_blocks.1.1.…`) through ldm_unet_name().
//  * Text encoder ("text_model.encoder.layers.0.self_attn.q_proj"): `lora_te_` / `lora_te1_` + X(.→_),
//    `text_encoder.` + X, `text_encoder.` + X without "text_model.", bare X. A second text encoder
//    (SDXL) uses `lora_te2_` and `text_encoder_2.`.
// Lookup tolerates a stray trailing '_' or '.', diffusers attention-processor names
// (`attn1.processor.to_q`, `processor.to_out` → `to_out.0`) and a `lycoris_` prefix on any spelling.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "models/sd1/config.h"
#include "runtime/module.h"

namespace ls::adapters {

/// Which part of the model a ParamTable holds; selects the name spellings and which strength applies.
enum class Component { UNet, TextEncoder, TextEncoder2 };
/// "unet", "text_encoder", "text_encoder_2".
const char* component_name(Component c);

/// The parameter tables of a loaded model that adapters may target. Null members are absent components.
struct ModelParams {
  ParamTable* unet = nullptr;
  ParamTable* text_encoder = nullptr;
  ParamTable* text_encoder_2 = nullptr;
  /// The UNet's config, when known: enables the LDM spellings of UNet keys (input_blocks / middle_block /
  /// output_blocks), which depend on layers_per_block and the block layout.
  const sd::UNetConfig* unet_config = nullptr;
  /// The non-null tables with their component.
  std::vector<std::pair<Component, ParamTable*>> tables() const;
};

/// What a module key resolves to: the weight parameter (and its bias when the model has one).
struct Target {
  Component component = Component::UNet;
  ParamTable* table = nullptr;
  std::string weight;  ///< "…to_q.weight"
  std::string bias;    ///< "…to_q.bias" or "" when the layer has no bias
};

/// The LDM (original SD checkpoint) spelling of a diffusers UNet parameter name, without the
/// "model.diffusion_model." prefix ("down_blocks.0.attentions.0.proj_in.weight" → "input_blocks.1.1.proj_in.weight"),
/// or "" when there is none (models/sd1/keymap.h unet_diffusers_to_ldm).
std::string ldm_unet_name(const std::string& diffusers_name, const sd::UNetConfig& cfg);

/// Forward map of every adapter spelling of every weight in `params`.
class KeyMap {
 public:
  explicit KeyMap(const ModelParams& params);
  /// The target of a module key (file spelling, suffix removed), or nullptr. Applies the tolerant
  /// normalisations listed in the header comment.
  const Target* find(const std::string& module_key) const;
  size_t size() const { return map_.size(); }
  const ModelParams& params() const { return params_; }

 private:
  void add(const std::string& spelling, const Target& t);
  const Target* exact(const std::string& k) const;
  ModelParams params_;
  std::unordered_map<std::string, Target> map_;
};

}  // namespace ls::adapters
