// transformers CLIPTextModel (the SD1.x / SD2.x text encoder), weights under "text_model.*".
//
// Math (transformers/models/clip/modeling_clip.py, read as reference): h₀ = token_embedding[ids] +
// position_embedding[0..L); per layer (pre-LN): h += out_proj(causal_attention(layer_norm1(h)));
// h += fc2(act(fc1(layer_norm2(h)))), act = quick_gelu (SD1, OpenAI CLIP) or gelu (SD2, OpenCLIP);
// last_hidden_state = final_layer_norm(h_L). Causal mask only; no padding mask (SD feeds padded ids).
#pragma once

#include <vector>

#include "models/sd1/config.h"
#include "runtime/module.h"

namespace ls::sd {

class CLIPTextModel {
 public:
  /// Binds every weight of `cfg` from `params` (names "text_model.embeddings.token_embedding.weight",
  /// "text_model.encoder.layers.{i}.self_attn.q_proj.weight", ...). Throws ls::Error naming the key on a
  /// missing or mis-shaped weight, or on an unknown hidden_act. `params` must outlive the model.
  CLIPTextModel(ParamTable& params, const CLIPTextConfig& cfg);

  /// ids [B, L] I64 or I32, L ≤ max_position_embeddings, every id in [0, vocab_size) →
  /// hidden_states[0..num_hidden_layers], each [B, L, hidden_size] F32: [0] the embeddings, [i] the output
  /// of encoder layer i−1 (residual stream, before final_layer_norm). Throws ls::Error on bad shapes/ids.
  std::vector<Tensor> forward(const Tensor& ids) const;

  /// The SD conditioning [B, L, hidden_size]: final_layer_norm(hidden_states[num_layers − (clip_skip − 1)]).
  /// clip_skip 1 = last layer (SD1 default), 2 = penultimate (A1111 "clip skip 2"; SD2's default).
  /// Throws ls::Error unless 1 ≤ clip_skip ≤ num_hidden_layers.
  Tensor encode(const Tensor& ids, int clip_skip = 1) const;

  /// final_layer_norm of any hidden state ([B, L, C] → [B, L, C]).
  Tensor final_norm(const Tensor& hidden) const;

  /// transformers' pooler_output [B, hidden_size]: last_hidden_state at the first position whose id equals
  /// eos_token_id (position 0 if there is none). `last_hidden_state` [B, L, C], ids [B, L].
  Tensor pooled(const Tensor& last_hidden_state, const Tensor& ids) const;

  const CLIPTextConfig& config() const { return cfg_; }

 private:
  struct Layer {
    LayerNorm ln1, ln2;
    Linear q, k, v, out, fc1, fc2;
  };
  CLIPTextConfig cfg_;
  Param* token_embedding_ = nullptr;
  Param* position_embedding_ = nullptr;
  std::vector<Layer> layers_;
  LayerNorm final_ln_;
  bool quick_gelu_ = true;
};

}  // namespace ls::sd
