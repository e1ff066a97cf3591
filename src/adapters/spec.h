// How users name adapters and strengths: `--lora PATH_OR_NAME[:STRENGTH[:TE_STRENGTH]]`, A1111 prompt tags
// `<lora:name:w>` / `<lora:name:te:unet>` (also `<lyco:…>`, named `te=`, `unet=`), and `--lora-dir DIR`
// name resolution.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "adapters/stack.h"

namespace ls::adapters {

/// One requested adapter.
struct LoraSpec {
  std::string name;           ///< path or name (file stem) as given
  float unet_strength = 1.0f;
  float te_strength = 1.0f;
  /// A1111 LoRA Block Weight: a preset or 17 / 26 numbers (adapters/block_weights.h); "" = none.
  std::string block_weights = {};
};

/// Parse "PATH_OR_NAME[:STRENGTH[:TE_STRENGTH]][:lbw=BLOCK_WEIGHTS]" (the CLI order: model strength first);
/// TE_STRENGTH defaults to STRENGTH. Only trailing fields that parse completely as numbers are strengths, so paths
/// with colons ("C:\\loras\\x.safetensors", "a:b.safetensors") survive. A last field "lbw=…" sets block_weights
/// (checked by parse_block_weights). Throws ls::Error on an empty name, a non-finite strength or bad block weights.
LoraSpec parse_lora_arg(const std::string& arg);

/// Remove every A1111 tag from `prompt` and append what they ask for to `out`. Tag forms (A1111
/// extensions-builtin/Lora): `<lora:NAME>` (strength 1), `<lora:NAME:W>` (both W), `<lora:NAME:TE:UNET>` (the A1111
/// order: text encoder first; a third positional field, dyn, is ignored), named fields `te=`, `unet=` (unet defaults
/// to te), `lbw=` (LoRA Block Weight preset or vector, block_weights.h), `<lyco:…>` the same. Other fields
/// (`dyn=`, `start=`, `stop=`) are ignored. Returns the prompt without the tags
/// (runs of spaces left behind collapsed to one, ends trimmed). Throws ls::Error naming the tag when a strength
/// does not parse.
std::string extract_prompt_loras(const std::string& prompt, std::vector<LoraSpec>& out);

/// The file `name` refers to: `name` itself when it is an existing file; otherwise the first file under each of
/// `dirs` (recursively, sorted) whose stem equals `name` (or whose relative path without extension equals it,
/// e.g. "styles/ink"), preferring .safetensors. Throws ls::Error naming `name` and the folders searched.
std::string resolve_lora_path(const std::string& name, const std::vector<std::string>& dirs);

/// Adapters already loaded, by resolved path: changing strengths or the stack re-reads nothing.
using AdapterCache = std::map<std::string, std::shared_ptr<const Adapter>>;

/// Resolve each spec's name (resolve_lora_path), load it through `cache` (load_adapter on a miss) and pair it with
/// its strengths and block weights (these need the keymap's unet_config). Throws ls::Error as resolve_lora_path / load_adapter do; entries already cached stay cached.
std::vector<StackEntry> load_stack(const std::vector<LoraSpec>& specs, const std::vector<std::string>& dirs,
                                   const KeyMap& keymap, AdapterCache& cache, const LoadOptions& opts = {});


}  // namespace ls::adapters
