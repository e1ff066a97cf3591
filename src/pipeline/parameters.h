// The A1111 "parameters" text stored in a PNG tEXt chunk (modules/processing.py create_infotext as the
// reference for field names and order):
//   <prompt>
//   Negative prompt: <negative>
//   Steps: 20, Sampler: Euler, Schedule type: Karras, CFG scale: 7.5, Seed: 42, Size: 512x512,
//   Model hash: 6ce0161689, Model: name, Clip skip: 2, Lora hashes: "style: 0123456789ab, char: ...",
//   Version: lorastack 0.1.0
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
  /// A1111 "Model hash" (a1111_model_hash: 10 hex digits); "" leaves the field out (diffusers folders).
  std::string model_hash = {};
};

/// "0.1.0": CMake's project() version.
std::string version();

/// SHA-256 of a single-file checkpoint (64 lower-case hex digits), read in full; "" for a folder (a diffusers
/// model has no single file to hash). A1111's "Model hash" is its first 10 digits (modules/sd_models.py
/// CheckpointInfo: shorthash = sha256[0:10]). Throws ls::Error naming the path when it cannot be read.
std::string checkpoint_sha256(const std::string& model_path);

/// The first 10 hex digits of checkpoint_sha256 (A1111 "Model hash", /sdapi/v1/sd-models "hash"); "" for a folder.
std::string a1111_model_hash(const std::string& model_path);

/// The parameters text `text` with "Model hash: `hash`" in its settings line, where A1111 writes it: before
/// "Model: ", else right after "Size: WxH". Unchanged when `hash` is "" or the line already has a Model hash.
std::string with_model_hash(const std::string& text, const std::string& hash);

/// An A1111 prompt tag for one adapter: "<lora:NAME:W>" when the text-encoder and UNet strengths are equal,
/// else "<lora:NAME:TE:UNET>" (A1111's positional order, extensions-builtin/Lora/extra_networks_lora.py), with
/// ":lbw=BLOCKS" appended when given. Strengths are written as the shortest decimal (0.8, not 0.800000011).
/// "" when NAME is empty or holds ':', '<' or '>' (no tag could carry it).
std::string a1111_lora_tag(const std::string& name, float unet_strength, float te_strength,
                           const std::string& block_weights = "");

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
