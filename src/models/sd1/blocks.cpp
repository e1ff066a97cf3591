#include "models/sd1/blocks.h"

namespace ls::sd {

// ---- ResnetBlock2D ----

ResnetBlock2D::ResnetBlock2D(ParamTable& t, const std::string& prefix, int64_t in, int64_t out,
                             int64_t temb_channels, int groups, float eps)
    : in_channels(in), out_channels(out) {
  norm1 = GroupNorm(t, prefix + ".norm1", in, groups, eps);
  conv1 = Conv2d(t, prefix + ".conv1", in, out, 3, 1, 1);
  if (temb_channels > 0) {
    has_temb = true;
    time_emb_proj = Linear(t, prefix + ".time_emb_proj", temb_channels, out);
  }
  norm2 = GroupNorm(t, prefix + ".norm2", out, groups, eps);
  conv2 = Conv2d(t, prefix + ".conv2", out, out, 3, 1, 1);
  if (in != out) {
    has_shortcut = true;
    conv_shortcut = Conv2d(t, prefix + ".conv_shortcut", in, out, 1, 1, 0);
  }
}

Tensor ResnetBlock2D::operator()(const Tensor& x, const Tensor& temb_act) const {
  Tensor h = conv1(norm1(x, /*silu=*/true));
  if (has_temb) {
    if (!temb_act.defined()) fail("ResnetBlock2D: time embedding required but not given");
    h = ops::add(h, time_emb_proj(temb_act));  // [N, C] broadcast over H, W
  }
  h = conv2(norm2(h, /*silu=*/true));
  return ops::add(has_shortcut ? conv_shortcut(x) : x, h);
}

// ---- Attention ----

Attention::Attention(ParamTable& t, const std::string& prefix, int64_t query_dim, int64_t context_dim, int heads_,
                     bool qkv_bias)
    : heads(heads_) {
  to_q = Linear(t, prefix + ".to_q", query_dim, query_dim, qkv_bias);
  to_k = Linear(t, prefix + ".to_k", context_dim, query_dim, qkv_bias);
  to_v = Linear(t, prefix + ".to_v", context_dim, query_dim, qkv_bias);
  to_out = Linear(t, prefix + ".to_out.0", query_dim, query_dim, true);
}

Tensor Attention::operator()(const Tensor& x, const Tensor* context) const {
  const Tensor& ctx = context ? *context : x;
  Tensor q = to_q(x);
  Tensor k = to_k(ctx);
  Tensor v = to_v(ctx);
  return to_out(ops::attention(q, k, v, heads, /*causal=*/false));
}

// ---- BasicTransformerBlock ----

BasicTransformerBlock::BasicTransformerBlock(ParamTable& t, const std::string& prefix, int64_t dim,
                                             int64_t context_dim, int heads)
    : name(prefix) {
  const float ln_eps = 1e-5f;  // diffusers BasicTransformerBlock norm_eps default
  norm1 = LayerNorm(t, prefix + ".norm1", dim, ln_eps);
  attn1 = Attention(t, prefix + ".attn1", dim, dim, heads, false);
  norm2 = LayerNorm(t, prefix + ".norm2", dim, ln_eps);
  attn2 = Attention(t, prefix + ".attn2", dim, context_dim, heads, false);
  norm3 = LayerNorm(t, prefix + ".norm3", dim, ln_eps);
  ff_in = Linear(t, prefix + ".ff.net.0.proj", dim, dim * 8);  // GEGLU: 2 × (4·dim)
  ff_out = Linear(t, prefix + ".ff.net.2", dim * 4, dim);
}

Tensor BasicTransformerBlock::operator()(const Tensor& x, const Tensor& context, Capture* capture) const {
  Tensor a1 = attn1(norm1(x));
  if (capture) (*capture)["act." + name + ".attn1"] = a1;
  Tensor h = ops::add(a1, x);
  Tensor a2 = attn2(norm2(h), &context);
  if (capture) (*capture)["act." + name + ".attn2"] = a2;
  h = ops::add(a2, h);
  Tensor f = ff_out(ops::geglu(ff_in(norm3(h))));
  h = ops::add(f, h);
  if (capture) (*capture)["act." + name] = h;
  return h;
}

// ---- Transformer2DModel ----

Transformer2DModel::Transformer2DModel(ParamTable& t, const std::string& prefix, int64_t channels, int heads,
                                       int64_t context_dim, int depth, int groups, bool use_linear_projection)
    : linear_proj(use_linear_projection) {
  if (heads <= 0 || channels % heads != 0)
    fail("{}: {}: {} channels not divisible into {} attention heads", t.component(), prefix, channels, heads);
  norm = GroupNorm(t, prefix + ".norm", channels, groups, 1e-6f);  // diffusers hard-codes eps 1e-6 here
  if (linear_proj) {
    proj_in_linear = Linear(t, prefix + ".proj_in", channels, channels);
    proj_out_linear = Linear(t, prefix + ".proj_out", channels, channels);
  } else {
    proj_in_conv = Conv2d(t, prefix + ".proj_in", channels, channels, 1, 1, 0);
    proj_out_conv = Conv2d(t, prefix + ".proj_out", channels, channels, 1, 1, 0);
  }
  for (int i = 0; i < depth; ++i)
    blocks.emplace_back(t, prefix + ".transformer_blocks." + std::to_string(i), channels, context_dim, heads);
}

Tensor Transformer2DModel::operator()(const Tensor& x, const Tensor& context, Capture* capture) const {
  const int64_t h = x.dim(2), w = x.dim(3);
  Tensor y = norm(x);
  if (linear_proj) {
    y = proj_in_linear(ops::nchw_to_nlc(y));
  } else {
    y = ops::nchw_to_nlc(proj_in_conv(y));
  }
  for (const auto& b : blocks) y = b(y, context, capture);
  if (linear_proj) {
    y = ops::nlc_to_nchw(proj_out_linear(y), h, w);
  } else {
    y = proj_out_conv(ops::nlc_to_nchw(y, h, w));
  }
  return ops::add(y, x);
}

// ---- Downsample2D / Upsample2D ----

Downsample2D::Downsample2D(ParamTable& t, const std::string& prefix, int64_t channels, bool asymmetric_pad)
    : asymmetric(asymmetric_pad) {
  conv = Conv2d(t, prefix + ".conv", channels, channels, 3, 2, asymmetric ? 0 : 1);
}

Tensor Downsample2D::operator()(const Tensor& x) const {
  if (asymmetric) return conv(ops::pad_right_bottom(x, 1, 1));
  return conv(x);
}

Upsample2D::Upsample2D(ParamTable& t, const std::string& prefix, int64_t channels) {
  conv = Conv2d(t, prefix + ".conv", channels, channels, 3, 1, 1);
}

Tensor Upsample2D::operator()(const Tensor& x) const { return conv(ops::upsample_nearest2x(x)); }

// ---- VAEAttention ----

VAEAttention::VAEAttention(ParamTable& t, const std::string& prefix, int64_t channels, int groups, float eps) {
  group_norm = GroupNorm(t, prefix + ".group_norm", channels, groups, eps);
  attn = Attention(t, prefix, channels, channels, 1, true);
}

Tensor VAEAttention::operator()(const Tensor& x) const {
  const int64_t h = x.dim(2), w = x.dim(3);
  Tensor y = attn(ops::nchw_to_nlc(group_norm(x)));
  return ops::add(ops::nlc_to_nchw(y, h, w), x);
}

}  // namespace ls::sd
