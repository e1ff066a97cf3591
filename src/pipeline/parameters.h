// The A1111 "parameters" text stored in a PNG tEXt chunk (modules/processing.py create_infotext as the
// reference for field names and order):
//   <prompt>
//   Negative prompt: <negative>
//   Steps: 20, Sampler: Euler, Schedule type: Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: name,
//   Clip skip: 2, Lora hashes: "style: 0123456789ab, char: ...", Version: lorastack 0.1.0
#pragma once

#include <string>
#include <vector>

#include "lorastack/lorastack.h"

namespace lorastack {

struct ParametersInfo {
  std::string model_name;
  struct Lora {
    std::string name;        ///< file stem, as A1111 names it
    std::string short_hash;  ///< 12 hex digits
  };
  std::vector<Lora> loras;
};

/// A1111's display name of a sampler ("euler_a" → "Euler a", "dpm++2m" → "DPM++ 2M").
std::string a1111_sampler_name(const std::string& sampler);

/// The parameters text for `req` (batch = images generated). LoRA names lose ':' and ',' and the `Lora hashes`
/// value is JSON-quoted, as A1111 (extensions-builtin/Lora/extra_networks_lora.py, processing.py quote()) does.
std::string format_parameters(const GenerateRequest& req, int64_t batch, const ParametersInfo& info);

/// The text of one image of a batch, A1111 style (create_infotext with position_in_batch): in the settings line
/// (the last line) "Seed: N" becomes `seed` and, when `batch` > 1, ", Batch pos: `pos`" follows "Batch size: B".
/// Other text (prompts) is untouched.
std::string image_parameters(const std::string& batch_text, uint64_t seed, int64_t pos, int64_t batch);

}  // namespace lorastack
