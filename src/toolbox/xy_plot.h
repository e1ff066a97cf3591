// `lorastack generate --xy AXIS=V1,V2,…`: comparison axes (A1111's X/Y/Z plot script, scripts/xyz_grid.py, as the
// reference for the axis kinds, Prompt S/R and the labels). One --xy is a row of images, two make a grid whose
// first axis runs along the columns (X) and the second down the rows (Y).
//
// Axes:
//   lora:NAME=0,0.5,1      strength of adapter NAME (UNet and text encoder alike); NAME is a --lora or prompt-tag
//                          adapter (file stem or path), or a name resolved in --lora-dir
//   seed=1,2,3 | seed=1-4  seeds (integer ranges A-B expand)
//   cfg=5,7.5              CFG scale           steps=10,20 | steps=10-12   sampling steps
//   sampler=euler,euler_a  sampler names       scheduler=normal,karras     schedulers
//   prompt=cat,dog,fox     Prompt S/R: the first value is searched in the prompt (and negative prompt) and
//                          replaced by each value in turn (the first cell keeps the prompt as written)
// Values are separated by commas; a value holding a comma is written in double quotes ("red, blue").
#pragma once

#include <string>
#include <vector>

#include "lorastack/lorastack.h"

namespace ls::toolbox {

enum class XYKind { LoraStrength, Seed, Cfg, Steps, Sampler, Scheduler, PromptSR };

struct XYAxis {
  XYKind kind = XYKind::Seed;
  std::string lora;                 ///< LoraStrength: the adapter name as given
  std::vector<std::string> values;  ///< as written (ranges expanded), at least one
  std::string spec;                 ///< the --xy argument
  /// The label drawn for value `i`: "Seed: 3", "CFG scale: 7.5", "Steps: 20", "Sampler: euler_a",
  /// "Scheduler: karras", "NAME: 0.5" (LoRA strength), the replacement text (Prompt S/R).
  std::string label(size_t i) const;
};

/// At most this many values per axis and cells per grid.
inline constexpr size_t kMaxAxisValues = 64;
inline constexpr size_t kMaxGridCells = 256;

/// Parse one --xy argument. Throws ls::Error naming the argument (and listing the axis kinds) for an unknown
/// kind, no values, a number that does not parse (seed: 0…2⁶⁴−1, steps: 1…1000, cfg / strength: finite), an
/// unclosed quote, more than kMaxAxisValues values.
XYAxis parse_xy_axis(const std::string& spec);

/// True when stack entry `s` is the adapter an axis calls `name`: its path equals `name`, or its file stem does.
bool lora_matches(const lorastack::LoraSpec& s, const std::string& name);

/// Set value `i` of `axis` on a cell's request and adapter stack (a LoRA axis sets both strengths of the matching
/// entry). Throws ls::Error naming the axis when no stack entry matches a LoRA axis, or when the Prompt S/R search
/// text is in neither prompt.
void apply_xy_value(const XYAxis& axis, size_t i, lorastack::GenerateRequest& req,
                    std::vector<lorastack::LoraSpec>& stack);

}  // namespace ls::toolbox
