// Per-block strengths for SD1.x / SD2.x UNets: A1111's "LoRA Block Weight" (hako-mikan/sd-webui-lora-block-weight,
// scripts/lora_block_weight.py: BLOCKID17 / BLOCKID26, DEF_WEIGHT_PRESET, to26, ratiodealer) as the reference.
//
//  * 26 blocks: BASE (the text encoder), IN00…IN11 (LDM input_blocks.N), M00 (middle_block), OUT00…OUT11
//    (output_blocks.N). A module's strength is multiplied by the ratio of its block; modules outside every block
//    (time embedding, the final norm_out / conv_out) keep ratio 1, as in the extension.
//  * 17-value vectors name the blocks a standard (attention-only) LoRA has: BASE, IN01, IN02, IN04, IN05, IN07,
//    IN08, M00, OUT03…OUT11; the 9 other blocks get 0 (the extension's to26), which matters for LoCon / LyCORIS
//    modules on resnets and samplers.
//  * Presets (the extension's defaults): NONE, ALL, INS, IND, INALL, MIDD, OUTD, OUTS, OUTALL, ALL0.5, and each
//    block id alone (BASE, IN01, …, MID / M00, OUT11: 1 there and 0 elsewhere, as its lbwpresets.txt).
//  * The ratio scales the module's strength, i.e. ΔW for LoRA / LoCon / LoHa / LoKr / full-diff, which are linear
//    in it (the extension scales up / w1a / w1 / the diff the same way).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "adapters/keymap.h"

namespace ls::adapters {

/// The 26 block ids: "BASE", "IN00"…"IN11", "M00", "OUT00"…"OUT11".
const std::vector<std::string>& block_ids26();
/// The 17 block ids of a 17-value vector.
const std::vector<std::string>& block_ids17();
/// The preset names parse_block_weights accepts, in documentation order.
std::vector<std::string> block_weight_presets();

/// A preset name (case-sensitive, as the extension) or 17 / 26 comma-separated numbers → 26 ratios.
/// Throws ls::Error naming `spec` for an unknown preset, another count, a number that does not parse or is not
/// finite.
std::vector<float> parse_block_weights(const std::string& spec);

/// Block index (0…25 in block_ids26) of parameter `name` of component `c` (text encoder → 0 = BASE; UNet through
/// its LDM name: input_blocks.N → 1+N, middle_block → 13, output_blocks.N → 14+N), or -1 outside every block.
int block_of(Component c, const std::string& name, const sd::UNetConfig& unet_config);

/// A StackEntry::module_scale applying `ratios` (26 values): ratios[block_of(target)], 1 outside every block.
std::function<float(const Target&)> block_scale(const std::vector<float>& ratios, const sd::UNetConfig& unet_config);

}  // namespace ls::adapters
