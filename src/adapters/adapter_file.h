// Reading a LoRA-family adapter file: tensors grouped per module, each tensor's role named, the file's
// format and each module's algorithm detected. No model is needed here; adapters/keymap.h resolves the
// module keys against a model's parameters and adapters/math.h computes the deltas.
//
// Spellings and algorithms follow /work/shared/craft/lora-formats.md §1–2 (kohya sd-scripts, LyCORIS,
// diffusers/PEFT, ComfyUI comfy/lora.py as references).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "runtime/tensor.h"

namespace ls::adapters {

/// The role a tensor plays inside one adapted module (its key suffix, canonicalised).
enum class Part {
  Down,       ///< lora_down / lora_A / lora.down / _lora.down / lora_linear_layer.down: [r, in(, kh, kw)]
  Up,         ///< lora_up / lora_B / ...: [out, r(, 1, 1)]
  Mid,        ///< lora_mid (CP/Tucker core): [r, r, kh, kw]
  UpBias,     ///< lora_B.bias: [out]
  Alpha,      ///< alpha (0-dim or 1-element)
  DoraScale,  ///< dora_scale: [1, in(, 1, 1)] (kohya/A1111) or [out, 1(, 1, 1)] (LyCORIS wd_on_out)
  Magnitude,  ///< PEFT lora_magnitude_vector: [out] (or [1, out, 1, 1] for conv)
  HadaW1A, HadaW1B, HadaW2A, HadaW2B, HadaT1, HadaT2,                  ///< LoHa
  LokrW1, LokrW1A, LokrW1B, LokrW2, LokrW2A, LokrW2B, LokrT2,          ///< LoKr
  IA3,        ///< IA3 scaling vector (`<module>.weight` in a kohya-named file)
  OnInput,    ///< IA3 flag: the vector scales input columns instead of output rows
  Diff,       ///< full weight difference (LyCORIS "full"): weight's shape
  DiffB,      ///< full bias difference: bias's shape
  WNorm,      ///< norm-layer weight delta
  BNorm,      ///< norm-layer bias delta
};
/// The canonical spelling of a part ("lora_down", "hada_w1_a", "diff_b", ...), for messages.
const char* part_name(Part p);

/// How a module's delta is computed.
enum class Algo { LoRA, LoCon, LoRACP, LoHa, LoKr, IA3, Diff, Norm };
/// "lora", "locon", "lora-cp", "loha", "lokr", "ia3", "diff", "norm".
const char* algo_name(Algo a);

/// How the file spells its keys.
enum class Format {
  Kohya,         ///< lora_unet_… / lora_te_… with lora_down/lora_up/alpha (kohya sd-scripts, A1111)
  LyCORIS,       ///< kohya-style names with LyCORIS algorithms (LoHa, LoKr, IA3, full, norm, DoRA)
  PEFT,          ///< diffusers/PEFT: unet.… / text_encoder.… with lora_A/lora_B
  DiffusersOld,  ///< older diffusers: .lora.up/.lora.down, processor.to_q_lora, lora_linear_layer
  Mixed,         ///< several of the above in one file
  Unknown,
};
const char* format_name(Format f);

/// All tensors of one adapted module.
struct ModuleTensors {
  std::string key;                    ///< module key as spelled in the file, suffix removed
  Algo algo = Algo::LoRA;
  bool dora = false;                  ///< has dora_scale / lora_magnitude_vector (weight decomposition)
  std::map<Part, Tensor> parts;       ///< storage dtype as in the file (maybe mmapped)
  std::map<Part, std::string> keys;   ///< the file key of each part (for messages and reports)
  bool has_alpha = false;             ///< alpha from an `.alpha` tensor or from PEFT metadata
  float alpha = 0.0f;

  bool has(Part p) const { return parts.count(p) != 0; }
  const Tensor& get(Part p) const { return parts.at(p); }
  /// Every file key of this module.
  std::vector<std::string> file_keys() const;
};

/// An adapter file, parsed.
struct AdapterFile {
  std::string path;
  Format format = Format::Unknown;
  std::map<std::string, std::string> metadata;
  std::vector<ModuleTensors> modules;       ///< sorted by key
  std::vector<std::string> unknown_keys;    ///< keys with no recognised adapter suffix
  std::string family_guess = "unknown";     ///< "SD1.x", "SD2.x", "SDXL", "Flux", "unknown"
  std::string short_hash;                   ///< A1111 short hash: first 12 hex of io::addnet_hash; "" in memory
};

/// Read an adapter file — .safetensors (memory-mapped) or a PyTorch .ckpt/.pt/.bin (io/weights.h
/// read_checkpoint, restricted unpickler) — and parse it with parse_adapter; sets short_hash.
/// Throws ls::Error (unreadable file, and everything parse_adapter throws).
AdapterFile read_adapter(const std::string& path);

/// Group the tensors of `file` by module, name each tensor's part, detect algorithms, the format, and
/// PEFT alphas from the `lora_adapter_metadata` JSON (keys "<component>.lora_alpha", ".alpha_pattern",
/// ".use_rslora"; rsLoRA is folded into alpha so that scale = alpha / r stays the rule).
/// Throws ls::Error naming the file and key when: the file is a full model checkpoint, a tensor holds
/// NaN/Inf, a part is not a float tensor, or a module is incomplete (lora_up without lora_down, ...).
AdapterFile parse_adapter(const io::TensorFile& file);

}  // namespace ls::adapters
