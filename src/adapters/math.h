// Weight and bias deltas of one adapted module, per algorithm (lora-formats.md §2, refsuite README §5).
//
// All results are F32 tensors of the target's shape; strength s multiplies the delta (negative allowed).
// Conventions: down [r, in(, kh, kw)], up [out, r(, 1, 1)], scale k = alpha / r, no alpha → k = 1.
//  * LoRA / LoCon: ΔW = s·k·(up.reshape(out, r) @ down.reshape(r, −1)), reshaped to W (kohya networks/lora.py).
//  * LoRA-CP (lora_mid [r, r, kh, kw]): ΔW[p,q,y,x] = s·k·Σᵢⱼ up[p,i]·mid[i,j,y,x]·down[j,q] (LyCORIS locon Tucker).
//  * LoHa: ΔW = s·k·(w1a@w1b) ⊙ (w2a@w2b), r = w1b.shape[0]; Tucker (hada_t1/t2 [r,r,kh,kw], w*a [r,out],
//    w*b [r,in]): Wᵢ[o,i,y,x] = Σ_pq t[p,q,y,x]·wa[p,o]·wb[q,i] (LyCORIS loha.py, ComfyUI weight_adapter/loha.py).
//  * LoKr: ΔW = s·k·kron(W1, W2); W1 = lokr_w1 or w1_a@w1_b; W2 = lokr_w2, w2_a@w2_b, or Tucker(t2, w2_a, w2_b);
//    a 4-D W2 takes W1 as [a, c, 1, 1]; k = alpha / w2_b.shape[0] if W2 is decomposed, else alpha / w1_b.shape[0]
//    if W1 is, else 1 (alpha ignored) (ComfyUI weight_adapter/lokr.py, refsuite conventions.lokr).
//  * IA3: W′ = W ⊙ (1 + s·w) per output row, or per input column with `on_input` (LyCORIS ia3.py).
//  * diff / diff_b: ΔW = s·diff, Δb = s·diff_b; norm: ΔW = s·w_norm, Δb = s·b_norm; lora_B.bias: Δb = s·k·bias.
//  * DoRA (the magnitude tensor's shape tells the layout; ΔL = k·up@down or the module's other delta):
//    - PEFT `lora_magnitude_vector` [out] and LyCORIS `dora_scale` [out, 1, …] (wd_on_out): PEFT rule, the
//      oracle of the refsuite — V = W + s·ΔL, n[o] = ‖V[o, …]‖₂, W′ = (m[o]/n[o])·V (PEFT tuners/lora/dora.py;
//      LyCORIS agrees at s = 1 only).
//    - kohya/OneTrainer/A1111 `dora_scale` [1, in, …]: ComfyUI/A1111 rule — W_c = W + ΔL, n[i] = ‖W_c[:, i, …]‖₂
//      (per input column), W_d = W_c·m[i]/n[i], W′ = W + s·(W_d − W) (ComfyUI weight_adapter/base.py
//      weight_decompose, A1111 extensions-builtin/Lora/network.py).
#pragma once

#include "adapters/adapter_file.h"

namespace ls::adapters {

/// k = alpha / r for the module's algorithm (see the header comment; 1 when the module has no alpha or for
/// diff / norm / IA3).
float module_scale(const ModuleTensors& m);

/// True when the module changes the weight / the bias of its target.
bool has_weight_delta(const ModuleTensors& m);
bool has_bias_delta(const ModuleTensors& m);

/// Check the module's tensors against each other and against the target shapes (`bias_shape` empty when
/// the layer has no bias). Throws ls::Error naming `file`, the offending key and both shapes.
void validate_module(const ModuleTensors& m, const std::string& file, const std::string& weight_name,
                     const Shape& weight_shape, const Shape& bias_shape);

/// The scaled, strength-free delta k·ΔL of a LoRA / LoCon / CP / LoHa / LoKr / diff / norm module as an F32
/// tensor of `weight_shape` (no DoRA, no IA3: those need the base weight). Assumes validate_module passed.
Tensor raw_weight_delta(const ModuleTensors& m, const Shape& weight_shape);

/// ΔW at strength `s` against the base weight `base` (F32, the target's shape): handles every algorithm
/// including IA3 and DoRA. Assumes validate_module passed.
Tensor weight_delta(const ModuleTensors& m, const Tensor& base, float s);

/// Δb at strength `s` (F32, `bias_shape`). Assumes validate_module passed and has_bias_delta(m).
Tensor bias_delta(const ModuleTensors& m, const Shape& bias_shape, float s);

}  // namespace ls::adapters
