// An adapter file resolved against one model: every module matched to its target parameter, validated
// (shapes, NaN/Inf) and reported. Loading never touches the model; AdapterStack (adapters/stack.h) applies it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/adapter_file.h"
#include "adapters/keymap.h"

namespace ls::adapters {

/// One module of the file and the parameter it adapts.
struct ResolvedModule {
  size_t index = 0;  ///< into Adapter::file.modules
  Target target;
};

/// What loading found, for the user (CLI report, PNG parameters).
struct AdapterReport {
  std::string path;
  std::string format;                          ///< format_name()
  std::string family;                          ///< AdapterFile::family_guess
  std::string short_hash;                      ///< A1111 short hash (AdapterFile::short_hash)
  std::map<std::string, int> algo_counts;      ///< "lora" → 128, "dora" counts modules with weight decomposition
  std::map<std::string, int> matched_modules;  ///< component_name() → modules matched
  int matched_tensors = 0;                     ///< file tensors used
  std::vector<std::string> unused_keys;        ///< file keys not used, sorted
  /// One line: "lora_a.safetensors: kohya (SD1.x), 140 modules (lora 140) → unet 128, text_encoder 12; 420 tensors
  /// matched, 0 unused".
  std::string summary() const;
};

struct LoadOptions {
  bool strict = false;  ///< any unused key is an error (`--lora-strict`)
};

/// A parsed, resolved and validated adapter. Immutable; shared by the stacks that use it.
struct Adapter {
  AdapterFile file;
  std::vector<ResolvedModule> modules;
  AdapterReport report;
  const ModuleTensors& module(const ResolvedModule& r) const { return file.modules[r.index]; }
};

/// Read `path` (read_adapter) and resolve it with resolve_adapter.
std::shared_ptr<const Adapter> load_adapter(const std::string& path, const KeyMap& keymap, const LoadOptions& opts = {});

/// Match every module of `file` through `keymap` and validate it against its target (math.h validate_module).
/// Throws ls::Error naming the file and key when: no module matches (the message names the first keys and the
/// spelling expected), two modules target the same weight, a delta does not fit its target (both shapes named),
/// or `opts.strict` and a key is unused.
std::shared_ptr<const Adapter> resolve_adapter(AdapterFile file, const KeyMap& keymap, const LoadOptions& opts = {});

}  // namespace ls::adapters
