// A stack of adapters, each at its own strengths, applied to a model's parameter tables.
//
// Rules (refsuite adapters.json conventions.stack, lora-formats.md §3):
//  * Every adapted weight receives the sum of the individual deltas, each computed with its own strength from
//    the unmodified base weight: W′ = base + Σᵢ ΔWᵢ(base, sᵢ). This holds for every type, DoRA and IA3
//    included, so the stack order never changes the result (contributions are also summed in a canonical
//    order, so permutations give bit-identical weights). Note this differs from ComfyUI, which patches
//    DoRA/OFT sequentially onto the already-patched weight; with one DoRA adapter per weight both agree.
//  * Strengths: `unet_strength` scales UNet deltas, `te_strength` text-encoder deltas (A1111 unet/te,
//    ComfyUI strength_model/strength_clip); negative values allowed; 0 removes the adapter from that part.
//  * Fuse mode: Param::value = base(F32) + Σ ΔW, recomputed from Param::base (never by subtracting).
//    Runtime mode: LoRA/LoCon on Linear/Conv2d layers run as side paths (adapters/side_path.h); every other
//    contribution to a weight is merged into Param::value as in fuse mode ("temporary merged weight").
//    Auto mode picks fuse (no per-step cost; a stack change recomputes only the touched weights).
//  * apply() recomputes only parameters whose set of contributions changed, restores parameters no longer
//    adapted to their base, and leaves the rest untouched. It validates and computes everything before
//    writing, so on any error the model is left exactly as it was.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "adapters/adapter.h"

namespace ls::adapters {

enum class ApplyMode { Fuse, Runtime, Auto };
/// "fuse", "runtime", "auto"; parse_apply_mode throws ls::Error on anything else.
const char* apply_mode_name(ApplyMode m);
ApplyMode parse_apply_mode(const std::string& s);

/// One adapter in a stack.
struct StackEntry {
  std::shared_ptr<const Adapter> adapter;
  float unet_strength = 1.0f;
  float te_strength = 1.0f;
  /// Optional per-module strength multiplier (empty = 1 everywhere): module i applies at
  /// strength · module_scale(target), e.g. A1111 LoRA Block Weight ratios (adapters/block_weights.h).
  std::function<float(const Target&)> module_scale = {};
};

class AdapterStack {
 public:
  /// The tables adapters are applied to (the same ones their KeyMap was built from).
  explicit AdapterStack(ModelParams params) : params_(params) {}

  /// Make `entries` the active stack. Throws ls::Error (model untouched) when an adapter is null, was
  /// resolved against other tables, a strength is not finite, or a merged weight would hold NaN/Inf.
  void apply(const std::vector<StackEntry>& entries, ApplyMode mode = ApplyMode::Fuse);
  /// Remove every adapter: all touched parameters back to base, side paths removed.
  void clear() { apply({}, ApplyMode::Fuse); }

  /// Counts of the last apply().
  struct Stats {
    int recomputed = 0;  ///< parameters given a new merged value or side paths
    int restored = 0;    ///< parameters put back to base
    int unchanged = 0;   ///< adapted parameters whose contributions did not change
    int side_paths = 0;  ///< side paths attached in total after the call
  };
  const Stats& last_stats() const { return stats_; }
  const std::vector<StackEntry>& entries() const { return entries_; }

 private:
  struct Contribution {
    const Adapter* adapter;
    size_t module;
    bool bias;
    float strength;
    bool side;
    bool operator==(const Contribution& o) const {
      return adapter == o.adapter && module == o.module && bias == o.bias && strength == o.strength && side == o.side;
    }
  };
  ModelParams params_;
  std::map<Param*, std::vector<Contribution>> applied_;
  std::vector<StackEntry> entries_;  // keeps the applied adapters alive
  Stats stats_;
};

}  // namespace ls::adapters
