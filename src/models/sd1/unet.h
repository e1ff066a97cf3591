// diffusers UNet2DConditionModel for SD1.x / SD2.x (CrossAttnDownBlock2D / DownBlock2D,
// UNetMidBlock2DCrossAttn, UpBlock2D / CrossAttnUpBlock2D), config-driven (models/sd1/config.h).
//
// Math (diffusers/models/unets/unet_2d_condition.py and unet_2d_blocks.py, read as reference):
// temb = linear_2(SiLU(linear_1(timestep_embedding(t, C₀)))); h = conv_in(x); down levels push every
// resnet/attention output and the downsampler output as skips; mid = resnet, transformer, resnet; each up
// level runs layers_per_block + 1 resnets on cat([h, skip], channels) (+ transformer), then upsamples
// (all but the last level); eps = conv_out(SiLU(conv_norm_out(h))).
#pragma once

#include <vector>

#include "models/sd1/blocks.h"
#include "models/sd1/config.h"

namespace ls::sd {

class UNet2DConditionModel {
 public:
  /// Binds every weight named by `cfg` from `params` (diffusers names: "conv_in.weight",
  /// "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", ...). Throws ls::Error on an
  /// inconsistent config or a missing / mis-shaped weight (naming the key). `params` must outlive the model.
  UNet2DConditionModel(ParamTable& params, const UNetConfig& cfg);

  /// x [N, in_channels, h, w] F32 latents (h, w divisible by 2^(levels−1)); timesteps [N] (or [1],
  /// broadcast) F32 — fractional values allowed — or I64/I32; context [N, L, cross_attention_dim] F32 (any
  /// L, e.g. 77·k) → [N, out_channels, h, w] (eps or v, per the model's prediction type).
  /// When `capture` is given, records act.time_proj, act.time_embedding, act.conv_in, act.down_blocks.{i},
  /// act.mid_block, act.up_blocks.{i}, act.conv_norm_out_silu and every transformer block's
  /// act.<path>.attn1 / .attn2 / act.<path> (names of refsuite reference/unet.safetensors).
  /// Throws ls::Error on mismatched shapes.
  Tensor forward(const Tensor& x, const Tensor& timesteps, const Tensor& context, Capture* capture = nullptr) const;

  const UNetConfig& config() const { return cfg_; }

  /// Gradient checkpointing (training): while an autograd tape records, each resnet and transformer block
  /// saves only its inputs and is recomputed during backward (runtime/autograd.h checkpoint). Off by default.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }

 private:
  struct Level {
    std::vector<ResnetBlock2D> resnets;
    std::vector<Transformer2DModel> attentions;  // empty for DownBlock2D / UpBlock2D
    std::vector<Downsample2D> down;              // 0 or 1
    std::vector<Upsample2D> up;                  // 0 or 1
  };
  UNetConfig cfg_;
  Linear time_linear_1_, time_linear_2_;
  Conv2d conv_in_, conv_out_;
  GroupNorm conv_norm_out_;
  std::vector<Level> down_, up_;
  ResnetBlock2D mid_res0_, mid_res1_;
  Transformer2DModel mid_attn_;
  bool checkpointing_ = false;
};

}  // namespace ls::sd
