// Adapter module names without a loaded model: a *name-only* SD1.x / SD2.x model (every parameter name
// of the preset layout, with full-size shapes but no weights) resolves any spelling through the adapters
// KeyMap, and the canonical kohya / diffusers-PEFT spellings are generated from the resolved target
// (lora-formats.md §1; refsuite README §5).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/adapter_file.h"
#include "adapters/keymap.h"
#include "models/sd1/config.h"

namespace ls::toolbox {

/// The parameter names (and full-size shapes) of one family's UNet and text encoder, and a KeyMap over them.
/// Tables hold 1-element placeholder tensors: only names are meaningful. Not copyable (KeyMap points in).
struct NameModel {
  sd::Family family = sd::Family::SD1;
  sd::UNetConfig unet_config;
  ParamTable unet{"unet"};
  ParamTable text{"text_encoder"};
  std::map<std::string, Shape> shapes;  ///< "unet:<name>" / "text_encoder:<name>" → full-size shape
  std::unique_ptr<adapters::KeyMap> keymap;
  NameModel() = default;
  NameModel(const NameModel&) = delete;
  NameModel& operator=(const NameModel&) = delete;
  /// The full-size shape of a resolved target's weight.
  const Shape& shape_of(const adapters::Target& t) const;
};

/// The name model of SD1.x (SD1.5 preset) or SD2.x (SD2 preset). Throws ls::Error for other families
/// (SDXL and Flux layouts are not built in yet).
const NameModel& name_model(sd::Family family);

/// The family named by an adapter's family_guess ("SD1.x" → SD1, "SD2.x" → SD2, "unknown" → SD1 as the
/// default layout). Throws ls::Error naming `file` for SDXL / Flux / others.
sd::Family layout_family(const std::string& family_guess, const std::string& file);

/// Module path of the target without ".weight" ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q",
/// "text_model.encoder.layers.0.self_attn.q_proj").
std::string target_module(const adapters::Target& t);

/// kohya spelling: "lora_unet_" + module (. → _), "lora_te_" / "lora_te2_" + module with "text_model." (. → _).
std::string kohya_name(adapters::Component c, const std::string& module);
/// diffusers / PEFT spelling: "unet." + module, "text_encoder." / "text_encoder_2." + module without "text_model."
/// (the layout current diffusers writes).
std::string peft_name(adapters::Component c, const std::string& module);

/// One low-rank module in canonical form: ΔW = (alpha / rank)·up·down, rank = down.dim(0).
/// down [r, in(, kh, kw)], up [out, r(, 1, 1)] in their storage dtype.
struct LowRankModule {
  adapters::Component component = adapters::Component::UNet;
  std::string module;  ///< target_module() form
  Tensor down, up;
  float alpha = 0.0f;
  int64_t rank() const { return down.dim(0); }
  float scale() const { return alpha / static_cast<float>(rank()); }
};

/// Every module of `af` as a LowRankModule, resolved through `names`. Only LoRA / LoCon modules without DoRA
/// are accepted (a missing alpha becomes alpha = rank, i.e. scale 1). Throws ls::Error naming the file and
/// module for other algorithms, for a key no parameter of the layout has, and for two modules on one weight.
std::vector<LowRankModule> lowrank_modules(const adapters::AdapterFile& af, const NameModel& names);

/// The tensors of a kohya file for `modules`: "<name>.lora_down.weight", "<name>.lora_up.weight", "<name>.alpha"
/// (0-dim, the dtype of down).
std::map<std::string, Tensor> kohya_tensors(const std::vector<LowRankModule>& modules);

/// Write modules with kohya names (kohya_tensors): "<name>.lora_down.weight", "<name>.lora_up.weight", "<name>.alpha" (0-dim,
/// the dtype of down). `metadata` is written as given. Throws ls::Error on write failure.
void write_kohya(const std::string& path, const std::vector<LowRankModule>& modules,
                 const std::map<std::string, std::string>& metadata);

/// write_kohya with kohya's content hashes added to `metadata` as train_util.precalculate_safetensors_hashes
/// writes them: sshs_model_hash and sshs_legacy_hash over the output tensors (toolbox/inspect.h). What extract,
/// resize and merge write. Throws ls::Error on write failure.
void write_kohya_with_hashes(const std::string& path, const std::vector<LowRankModule>& modules,
                             std::map<std::string, std::string> metadata);

/// Write modules with diffusers/PEFT names ("<name>.lora_A.weight" = down, "<name>.lora_B.weight" = up) and the
/// `lora_adapter_metadata` JSON diffusers writes: per component "<c>.r", "<c>.lora_alpha" (the most common rank /
/// alpha), "<c>.rank_pattern" / "<c>.alpha_pattern" (full module path → value, for modules that differ),
/// "<c>.target_modules", "<c>.use_rslora" false, "<c>.use_dora" false; plus "format": "pt".
void write_peft(const std::string& path, const std::vector<LowRankModule>& modules,
                std::map<std::string, std::string> metadata);

}  // namespace ls::toolbox
