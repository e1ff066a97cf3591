#include "models/sd1/clip_text.h"

#include <string>

namespace ls::sd {

CLIPTextModel::CLIPTextModel(ParamTable& t, const CLIPTextConfig& cfg) : cfg_(cfg) {
  const int64_t c = cfg.hidden_size;
  if (cfg.hidden_act == "quick_gelu") {
    quick_gelu_ = true;
  } else if (cfg.hidden_act == "gelu") {
    quick_gelu_ = false;
  } else {
    fail("{}: hidden_act '{}' not supported (quick_gelu or gelu)", t.component(), cfg.hidden_act);
  }
  if (c <= 0 || cfg.num_attention_heads <= 0 || c % cfg.num_attention_heads != 0)
    fail("{}: hidden_size {} not divisible into {} heads", t.component(), c, cfg.num_attention_heads);
  if (cfg.num_hidden_layers <= 0) fail("{}: num_hidden_layers {} must be positive", t.component(), cfg.num_hidden_layers);
  const std::string p = "text_model.";
  token_embedding_ = &t.get(p + "embeddings.token_embedding.weight", {cfg.vocab_size, c});
  position_embedding_ = &t.get(p + "embeddings.position_embedding.weight", {cfg.max_position_embeddings, c});
  for (int i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string l = p + "encoder.layers." + std::to_string(i) + ".";
    Layer layer;
    layer.ln1 = LayerNorm(t, l + "layer_norm1", c, cfg.layer_norm_eps);
    layer.q = Linear(t, l + "self_attn.q_proj", c, c);
    layer.k = Linear(t, l + "self_attn.k_proj", c, c);
    layer.v = Linear(t, l + "self_attn.v_proj", c, c);
    layer.out = Linear(t, l + "self_attn.out_proj", c, c);
    layer.ln2 = LayerNorm(t, l + "layer_norm2", c, cfg.layer_norm_eps);
    layer.fc1 = Linear(t, l + "mlp.fc1", c, cfg.intermediate_size);
    layer.fc2 = Linear(t, l + "mlp.fc2", cfg.intermediate_size, c);
    layers_.push_back(layer);
  }
  final_ln_ = LayerNorm(t, p + "final_layer_norm", c, cfg.layer_norm_eps);
}

std::vector<Tensor> CLIPTextModel::forward(const Tensor& ids) const {
  if (ids.ndim() != 2 || (ids.dtype() != DType::I64 && ids.dtype() != DType::I32))
    fail("CLIPTextModel: ids must be [B, L] I64/I32, got {} {}", shape_str(ids.shape()), dtype_name(ids.dtype()));
  const int64_t len = ids.dim(1);
  if (len < 1 || len > cfg_.max_position_embeddings)
    fail("CLIPTextModel: sequence length {} outside [1, {}]", len, cfg_.max_position_embeddings);

  std::vector<Tensor> hidden;
  hidden.reserve(layers_.size() + 1);
  // token + position embeddings; ops::embedding validates the id range.
  Tensor tok = ops::embedding(token_embedding_->value, ids);  // [B, L, C]
  Tensor pos = position_embedding_->value.narrow0(0, len);     // [L, C], broadcast over B
  Tensor h = ops::add(tok, pos);
  hidden.push_back(h);
  for (const Layer& l : layers_) {
    Tensor x = l.ln1(h);
    Tensor a = ops::attention(l.q(x), l.k(x), l.v(x), cfg_.num_attention_heads, /*causal=*/true);
    h = ops::add(h, l.out(a));
    Tensor m = l.fc1(l.ln2(h));
    m = quick_gelu_ ? ops::quick_gelu(m) : ops::gelu(m);
    h = ops::add(h, l.fc2(m));
    hidden.push_back(h);
  }
  return hidden;
}

Tensor CLIPTextModel::final_norm(const Tensor& hidden) const { return final_ln_(hidden); }

Tensor CLIPTextModel::encode(const Tensor& ids, int clip_skip) const {
  const int n = cfg_.num_hidden_layers;
  if (clip_skip < 1 || clip_skip > n) fail("CLIPTextModel: clip_skip {} outside [1, {}]", clip_skip, n);
  std::vector<Tensor> hidden = forward(ids);
  return final_ln_(hidden[static_cast<size_t>(n - (clip_skip - 1))]);
}

Tensor CLIPTextModel::pooled(const Tensor& last_hidden_state, const Tensor& ids) const {
  if (last_hidden_state.ndim() != 3 || ids.ndim() != 2 || ids.dim(0) != last_hidden_state.dim(0) ||
      ids.dim(1) != last_hidden_state.dim(1))
    fail("CLIPTextModel::pooled: hidden {} and ids {} do not match", shape_str(last_hidden_state.shape()),
         shape_str(ids.shape()));
  const Tensor ids64 = ids.to(DType::I64);
  const int64_t b = ids.dim(0), len = ids.dim(1);
  const Tensor& hs = last_hidden_state;
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t* row = ids64.data<int64_t>() + i * len;
    int64_t at = 0;
    for (int64_t j = 0; j < len; ++j)
      if (row[j] == cfg_.eos_token_id) {
        at = j;
        break;
      }
    // [1, L, C] → [L, C] → row `at` as [1, C]
    rows.push_back(hs.narrow0(i, 1).reshape({len, hs.dim(2)}).narrow0(at, 1));
  }
  return ops::cat(rows, 0);
}

}  // namespace ls::sd
