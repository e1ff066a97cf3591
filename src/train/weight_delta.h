// Per-algorithm parameters of a trainable module (init) and, for the weight-delta algorithms, the merged
// weight W + ΔW(θ) written in recorded ops so the tape reaches θ. Math and names as LyCORIS
// (lycoris/modules/loha.py, lokr.py) and kohya networks/lora.py; init as there, so ΔW = 0 at step 0.
#pragma once

#include <random>

#include "train/network.h"

namespace ls::train {

/// Fill m.tensors for `type` from m.target's weight shape, m.rank and m.alpha:
///  LoRA / LoCon: lora_down.weight [r, in(, kh, kw)] kaiming-uniform, lora_up.weight [out, r(, 1, 1)] zeros;
///  LoHa: hada_w1_a [out, r] N(0, 0.1), hada_w1_b [r, in·kh·kw] N(0, 1), hada_w2_a zeros, hada_w2_b N(0, 1);
///  LoKr: lokr_w1 [out_m, in_m] kaiming, lokr_w2_a [out_n, r] kaiming, lokr_w2_b [r, in_n·kh·kw] zeros, with
///  (m, n) LyCORIS' factorization (m ≤ n, m·n = dim, m as close to √dim as `factor` allows).
///  DoRA: lora_down / lora_up as LoRA plus dora_scale [out, 1(, 1, 1)] = ‖W‖ per output row (LyCORIS wd_on_out).
void init_module(TrainModule& m, NetworkType type, int lokr_factor, std::mt19937_64& gen);

/// W′ = W + (α/r)·ΔW(θ) for LoHa (ΔW = (w1a·w1b) ⊙ (w2a·w2b)) and LoKr (ΔW = w1 ⊗ (w2a·w2b)), shaped as W;
/// DoRA: W′ = m ⊙ V/‖V‖_row with V = W + (α/r)·up·down.
/// `w` is the frozen F32 weight on the training device.
Tensor merged_weight(const TrainModule& m, NetworkType type, const Tensor& w);

/// LyCORIS factorization(dim, factor): (m, n) with m·n = dim, m ≤ n.
std::pair<int64_t, int64_t> lokr_factorization(int64_t dim, int factor);

}  // namespace ls::train
