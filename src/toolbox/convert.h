// `lorastack lora convert`: kohya ↔ diffusers/PEFT naming for LoRA / LoCon adapters (lora-formats.md §1).
//
// Tensors are carried over unchanged (same dtype and bytes); only names and the scale bookkeeping change:
// kohya keeps alpha per module as a 0-dim `.alpha` tensor, PEFT in the `lora_adapter_metadata` JSON
// (`<component>.lora_alpha` plus `alpha_pattern` for modules that differ). Text-encoder modules are written
// without `text_model.` for PEFT (the layout current diffusers writes) and with it for kohya, so
// kohya → PEFT → kohya reproduces the original tensors bit for bit.
#pragma once

#include <string>

namespace ls::toolbox {

enum class LoraLayout { Kohya, PEFT };
/// "kohya" | "peft" (also "diffusers"); throws ls::Error naming the value otherwise.
LoraLayout parse_layout(const std::string& s);

struct ConvertReport {
  std::string from_format;  ///< adapters::format_name of the input
  int modules = 0;
  int unet_modules = 0, te_modules = 0;
};

/// Read `in` (any supported LoRA / LoCon spelling: kohya, PEFT, old diffusers), write `out` in layout `to`.
/// Metadata other than `format` / `lora_adapter_metadata` is kept; kohya output gains ss_network_module,
/// ss_network_dim and ss_network_alpha (the most common rank / alpha) when absent. Throws ls::Error (naming the
/// file and module) for other algorithms (LoHa, LoKr, DoRA, ...), SDXL / Flux adapters, unknown keys, or when
/// `out` equals `in`.
ConvertReport convert_adapter(const std::string& in, LoraLayout to, const std::string& out);

}  // namespace ls::toolbox
