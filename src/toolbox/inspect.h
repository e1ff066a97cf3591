// `lorastack lora inspect`: what an adapter file is — format, algorithms, the base family it fits, rank/alpha per
// module group, metadata (kohya ss_*, modelspec.*), trigger words and the hashes the field names files by.
//
// Hashes (lora-formats.md §4): sha256 of the file; CivitAI AutoV2 = its first 10 hex digits (upper case, as
// CivitAI shows it); A1111 / additional-networks "addnet" hash = sha256 of the bytes after the safetensors header
// (A1111's LoRA short hash is its first 12 hex digits); kohya `sshs_model_hash` = addnet hash of the file kohya
// would serialise from the same tensors with only its ss_* metadata (sd-scripts library/train_util.py
// precalculate_safetensors_hashes): safetensors lays tensors out by dtype (descending) then name, and the header
// is not hashed, so the value depends on the tensors only. It is recomputed in that canonical order and compared
// with the stored one. kohya `sshs_legacy_hash` (train_util.addnet_hash_legacy over the same serialisation) = the
// first 8 hex digits of the SHA-256 of the 64 KiB at byte offset 1 MiB of that file; it depends on the header's
// length (ss_* metadata included) and on the tensor bytes, and is recomputed the same way.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"

namespace ls::toolbox {

/// Modules of one group ("unet attn", "unet ff", "unet proj", "unet conv", "unet other", "te attn", "te mlp", ...).
struct ModuleGroup {
  std::string name;
  int modules = 0;
  std::map<std::string, int> algorithms;  ///< "lora" → 96
  std::map<std::string, int> rank_alpha;  ///< "rank 4, alpha 8" → 96 (alpha "-" when the file has none)
};

/// How well the key names (and, for LoRA / LoCon, the shapes) fit one family's full-size layout.
struct FamilyFit {
  std::string family;     ///< "SD1.x", "SD2.x"
  int names_matched = 0;  ///< modules whose key names a parameter of the layout
  int shapes_checked = 0; ///< LoRA / LoCon modules among those (their shapes are compared)
  int shapes_fit = 0;     ///< of which the delta has the parameter's shape
};

struct InspectReport {
  std::string path;
  uint64_t file_size = 0;
  std::string format;                      ///< adapters::format_name
  std::map<std::string, int> algorithms;   ///< over all modules; "dora" counts weight-decomposed modules
  std::string family;                      ///< AdapterFile::family_guess
  std::string family_source;               ///< "ss_base_model_version=sd_v1", "modelspec.architecture=…", "key names"
  std::vector<FamilyFit> fits;
  std::vector<ModuleGroup> groups;
  int modules = 0, unet_modules = 0, te_modules = 0;
  std::vector<std::string> unknown_keys;
  std::map<std::string, std::string> metadata;
  std::string trigger_phrase;                         ///< modelspec.trigger_phrase ("" if none)
  std::vector<std::pair<std::string, int>> top_tags;  ///< most frequent ss_tag_frequency tags (≤ 10)
  std::string sha256, autov2, addnet_hash, short_hash;
  std::string kohya_hash_stored;    ///< metadata sshs_model_hash ("" if absent)
  std::string kohya_hash_computed;  ///< "" for non-safetensors files
  std::string kohya_hash_status;    ///< "matches", "differs", "absent"
  std::string legacy_hash_stored;    ///< metadata sshs_legacy_hash ("" if absent)
  std::string legacy_hash_computed;  ///< "" for non-safetensors files
  std::string legacy_hash_status;    ///< "matches", "differs", "absent"
};

/// Inspect `path` (.safetensors, or .ckpt/.pt/.bin through the restricted loader). Throws ls::Error as
/// adapters::read_adapter does (unreadable, not an adapter, NaN/Inf, incomplete module).
InspectReport inspect_adapter(const std::string& path);

/// Human-readable report (metadata values longer than 200 characters shortened, ss_tag_frequency summarised).
std::string inspect_text(const InspectReport& r);
/// The full report as JSON (metadata values verbatim).
nlohmann::json inspect_json(const InspectReport& r);

/// The kohya sshs_model_hash of a set of tensors: lower-case hex sha256 of their bytes concatenated in
/// safetensors' serialisation order (dtype descending, then name).
std::string kohya_model_hash(const std::map<std::string, Tensor>& tensors);

/// The kohya sshs_legacy_hash of a set of tensors and metadata: kohya keeps only the `ss_*` entries of `metadata`,
/// serialises like safetensors (header `{"__metadata__":{…},"name":{"dtype":…,"shape":[…],"data_offsets":[…]},…}`
/// compact, tensors in dtype-descending then name order, padded with spaces to a multiple of 8) and hashes the
/// bytes [0x100000, 0x110000) of the result (fewer, or none, when the file is shorter). Returns 8 lower-case hex.
/// Exact while the header is shorter than 1 MiB (beyond that kohya's own value depends on hash-map order).
std::string kohya_legacy_hash(const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata);

/// The top `n` tags of a kohya ss_tag_frequency JSON ({dataset: {tag: count}}), counts summed over datasets,
/// sorted by count (descending) then tag. Malformed JSON gives an empty list.
std::vector<std::pair<std::string, int>> top_tags(const std::string& tag_frequency_json, size_t n = 10);

}  // namespace ls::toolbox
