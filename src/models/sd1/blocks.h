// The building blocks shared by the SD1.x / SD2.x UNet and VAE, in diffusers' structure and naming
// (diffusers/models/resnet.py, attention.py, attention_processor.py, transformers/transformer_2d.py,
// upsampling.py, downsampling.py). Each block binds its weights from a ParamTable under a name prefix
// such as "down_blocks.0.resnets.1"; every weight is applied through ls::Linear / ls::Conv2d so LoRA
// side paths and fused weights take effect without model changes.
//
// Shapes: images NCHW F32, token sequences [N, L, C] F32. All blocks throw ls::Error (from ParamTable)
// when a weight is missing or mis-shaped, naming the component and key.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/module.h"

namespace ls::sd {

/// Optional sink for intermediate activations ("act.<module path>" → tensor), used to bisect a model
/// against reference forward hooks (refsuite reference/unet.safetensors). Null = record nothing.
using Capture = std::map<std::string, Tensor>;

/// diffusers ResnetBlock2D (resnet_time_scale_shift "default", output_scale_factor 1):
/// h = conv1(SiLU(norm1(x))) [+ time_emb_proj(SiLU(temb))[:, :, None, None]];
/// h = conv2(SiLU(norm2(h))); out = shortcut(x) + h, shortcut = 1×1 conv_shortcut when in ≠ out.
/// Weights: <prefix>.{norm1,conv1,time_emb_proj,norm2,conv2,conv_shortcut}.
struct ResnetBlock2D {
  GroupNorm norm1, norm2;
  Conv2d conv1, conv2, conv_shortcut;
  Linear time_emb_proj;
  bool has_shortcut = false;
  bool has_temb = false;
  int64_t in_channels = 0, out_channels = 0;

  ResnetBlock2D() = default;
  /// `temb_channels` 0 = no time embedding (VAE). `groups`/`eps`: GroupNorm settings (UNet 32 / 1e-5,
  /// VAE 32 / 1e-6).
  ResnetBlock2D(ParamTable& t, const std::string& prefix, int64_t in, int64_t out, int64_t temb_channels,
                int groups, float eps);
  /// x [N, in, H, W]; temb_act = SiLU(temb) [N, temb_channels] (already activated, computed once per UNet
  /// call), or undefined when the block has no time embedding → [N, out, H, W].
  Tensor operator()(const Tensor& x, const Tensor& temb_act = {}) const;
};

/// diffusers Attention with the default processor (no norms inside): q = to_q(x), k = to_k(ctx),
/// v = to_v(ctx), softmax(q·kᵀ/√d)·v over `heads` heads, then to_out.0. Self-attention when no context.
struct Attention {
  Linear to_q, to_k, to_v, to_out;
  int heads = 1;

  Attention() = default;
  /// query_dim = inner dim (heads · head_dim); context_dim = width of the context (= query_dim for
  /// self-attention). `qkv_bias`: to_q/k/v carry biases (VAE) or not (UNet transformer blocks).
  Attention(ParamTable& t, const std::string& prefix, int64_t query_dim, int64_t context_dim, int heads,
            bool qkv_bias);
  /// x [N, Lq, query_dim], context [N, Lk, context_dim] or null (self-attention) → [N, Lq, query_dim].
  Tensor operator()(const Tensor& x, const Tensor* context = nullptr) const;
};

/// diffusers BasicTransformerBlock (SD1/SD2 form): x += attn1(norm1(x)); x += attn2(norm2(x), context);
/// x += ff(norm3(x)) with ff = ff.net.2(GEGLU(ff.net.0.proj(·))), inner width 4·dim. LayerNorm eps 1e-5.
struct BasicTransformerBlock {
  LayerNorm norm1, norm2, norm3;
  Attention attn1, attn2;
  Linear ff_in, ff_out;
  std::string name;  ///< module path, for captures

  BasicTransformerBlock() = default;
  BasicTransformerBlock(ParamTable& t, const std::string& prefix, int64_t dim, int64_t context_dim, int heads);
  /// x [N, L, dim], context [N, Lc, context_dim] → [N, L, dim]. Records act.<name>.attn1, .attn2 and
  /// act.<name> into `capture` when given.
  Tensor operator()(const Tensor& x, const Tensor& context, Capture* capture = nullptr) const;
};

/// diffusers Transformer2DModel (continuous input): GroupNorm (eps 1e-6) → proj_in (1×1 conv, or Linear
/// when use_linear_projection) → BasicTransformerBlock × depth → proj_out → + residual.
struct Transformer2DModel {
  GroupNorm norm;
  bool linear_proj = false;
  Conv2d proj_in_conv, proj_out_conv;
  Linear proj_in_linear, proj_out_linear;
  std::vector<BasicTransformerBlock> blocks;

  Transformer2DModel() = default;
  /// channels = heads · head_dim; context_dim = cross_attention_dim; depth = transformer_layers_per_block.
  Transformer2DModel(ParamTable& t, const std::string& prefix, int64_t channels, int heads, int64_t context_dim,
                     int depth, int groups, bool use_linear_projection);
  /// x [N, C, H, W], context [N, Lc, context_dim] → [N, C, H, W].
  Tensor operator()(const Tensor& x, const Tensor& context, Capture* capture = nullptr) const;
};

/// diffusers Downsample2D with a conv: `<prefix>.conv`, 3×3 stride 2. UNet: symmetric padding 1. VAE
/// (asymmetric): zero-pad right/bottom by 1, then padding 0.
struct Downsample2D {
  Conv2d conv;
  bool asymmetric = false;
  Downsample2D() = default;
  Downsample2D(ParamTable& t, const std::string& prefix, int64_t channels, bool asymmetric_pad);
  /// [N, C, H, W] → [N, C, H/2, W/2] for even H, W (odd sizes: ⌈H/2⌉ symmetric, ⌊H/2⌋ asymmetric).
  Tensor operator()(const Tensor& x) const;
};

/// diffusers Upsample2D: nearest 2× upsampling then `<prefix>.conv` 3×3 padding 1.
struct Upsample2D {
  Conv2d conv;
  Upsample2D() = default;
  Upsample2D(ParamTable& t, const std::string& prefix, int64_t channels);
  /// [N, C, H, W] → [N, C, 2H, 2W].
  Tensor operator()(const Tensor& x) const;
};

/// The VAE mid-block attention (diffusers Attention with group_norm, one head over all channels,
/// biased to_q/to_k/to_v/to_out.0 as Linear over channels): x + to_out(attn(GroupNorm(x) as [N, HW, C])).
struct VAEAttention {
  GroupNorm group_norm;
  Attention attn;
  VAEAttention() = default;
  VAEAttention(ParamTable& t, const std::string& prefix, int64_t channels, int groups, float eps);
  /// [N, C, H, W] → [N, C, H, W].
  Tensor operator()(const Tensor& x) const;
};

}  // namespace ls::sd
