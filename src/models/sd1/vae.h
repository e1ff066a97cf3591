// diffusers AutoencoderKL (the SD1.x / SD2.x VAE): Encoder, quant_conv, post_quant_conv, Decoder.
//
// Math (diffusers/models/autoencoders/vae.py, autoencoder_kl.py, read as reference): encoder = conv_in,
// DownEncoderBlock2D × levels (ResnetBlock2D × layers_per_block, Downsample2D with (0,1,0,1) zero pad on
// all but the last), mid (resnet, single-head attention, resnet), SiLU(GroupNorm), conv_out → 2·latent
// channels (mean ‖ logvar); decoder = conv_in, mid, UpDecoderBlock2D × levels (layers_per_block + 1
// resnets, nearest 2× upsample + conv on all but the last), SiLU(GroupNorm), conv_out. GroupNorm eps 1e-6.
#pragma once

#include <vector>

#include "models/sd1/blocks.h"
#include "models/sd1/config.h"

namespace ls::sd {

/// The encoder posterior (diffusers DiagonalGaussianDistribution), each [N, latent_channels, h, w] F32.
struct Moments {
  Tensor mean;
  Tensor logvar;  ///< clamped to [-30, 20]
  Tensor std;     ///< exp(logvar / 2)
};

class AutoencoderKL {
 public:
  /// Binds every weight named by `cfg` from `params` (diffusers names: "encoder.conv_in.weight",
  /// "decoder.mid_block.attentions.0.to_q.weight" [C, C] Linear form, "quant_conv.weight", ...). Throws
  /// ls::Error on a missing or mis-shaped weight (naming the key). `params` must outlive the model.
  AutoencoderKL(ParamTable& params, const VAEConfig& cfg);

  /// z [N, latent_channels, h, w] F32, already divided by scaling_factor → image [N, out_channels, 8h, 8w]
  /// (for 4 levels; ×patch_size in pixel-unshuffle mode), nominally in [-1, 1], not clamped. Records act.decoder.conv_in, act.decoder.mid_block,
  /// act.decoder.up_blocks.{i} when `capture` is given. Throws ls::Error on a bad shape.
  Tensor decode(const Tensor& z, Capture* capture = nullptr) const;

  /// image [N, in_channels, H, W] F32 in [-1, 1] (H, W divisible by 2^(levels−1)) → posterior moments.
  /// The sampled latent is mean + std·noise; SD then multiplies by scaling_factor. Throws ls::Error on a
  /// bad shape.
  Moments encode(const Tensor& image) const;

  /// quant_conv(encoder(image)) [N, 2·latent_channels, h, w]: channels [0, L) mean, [L, 2L) raw logvar.
  Tensor encode_moments(const Tensor& image) const;

  const VAEConfig& config() const { return cfg_; }

 private:
  struct Level {
    std::vector<ResnetBlock2D> resnets;
    std::vector<Downsample2D> down;  // 0 or 1
    std::vector<Upsample2D> up;      // 0 or 1
  };
  struct Mid {
    ResnetBlock2D res0, res1;
    VAEAttention attn;
  };
  VAEConfig cfg_;
  // encoder
  Conv2d enc_conv_in_, enc_conv_out_;
  std::vector<Level> enc_levels_;
  Mid enc_mid_;
  GroupNorm enc_norm_out_;
  Conv2d quant_conv_;
  // decoder
  Conv2d post_quant_conv_;
  Conv2d dec_conv_in_, dec_conv_out_;
  Mid dec_mid_;
  std::vector<Level> dec_levels_;
  GroupNorm dec_norm_out_;
};

}  // namespace ls::sd
