#include "models/sd1/vae.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ls::sd {

namespace {

constexpr float kVaeEps = 1e-6f;  // diffusers Encoder/Decoder GroupNorm eps

std::string idx(const std::string& base, size_t i) { return base + "." + std::to_string(i); }

// clamp(logvar, -30, 20) and exp(logvar / 2), element-wise on CPU F32 (no such op in ops.h yet).
Tensor clamp_logvar(const Tensor& logvar) {
  Tensor out = logvar.clone();
  for (float& v : out.f32()) v = std::clamp(v, -30.0f, 20.0f);
  return out;
}

Tensor exp_half(const Tensor& logvar) {
  Tensor out = logvar.clone();
  for (float& v : out.f32()) v = std::exp(0.5f * v);
  return out;
}

// [N, C, H, W] → [N, C·p², H/p, W/p] (torch pixel_unshuffle order) and back; permutes record gradients.
Tensor pixel_unshuffle(const Tensor& x, int64_t p) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2) / p, w = x.dim(3) / p;
  Tensor y = ops::permute(x.reshape({n, c, h, p, w, p}), {0, 1, 3, 5, 2, 4});
  return y.reshape({n, c * p * p, h, w});
}

Tensor pixel_shuffle(const Tensor& z, int64_t p) {
  const int64_t n = z.dim(0), c = z.dim(1) / (p * p), h = z.dim(2), w = z.dim(3);
  Tensor y = ops::permute(z.reshape({n, c, p, p, h, w}), {0, 1, 4, 2, 5, 3});
  return y.reshape({n, c, h * p, w * p});
}

}  // namespace

AutoencoderKL::AutoencoderKL(ParamTable& t, const VAEConfig& cfg) : cfg_(cfg) {
  if (cfg.patch_size > 0) {  // pixel-unshuffle "VAE": no weights
    if (cfg.latent_channels != cfg.in_channels * cfg.patch_size * cfg.patch_size || cfg.out_channels != cfg.in_channels)
      fail("{}: pixel-unshuffle VAE with patch_size {} needs latent_channels = in_channels·p² = {} and out_channels = "
           "in_channels = {}, got {} and {}", t.component(), cfg.patch_size,
           cfg.in_channels * cfg.patch_size * cfg.patch_size, cfg.in_channels, cfg.latent_channels, cfg.out_channels);
    return;
  }
  const auto& ch = cfg.block_out_channels;
  const size_t n = ch.size();
  if (n == 0) fail("{}: block_out_channels is empty", t.component());
  if (cfg.layers_per_block < 1) fail("{}: layers_per_block {} must be ≥ 1", t.component(), cfg.layers_per_block);
  const int g = cfg.norm_num_groups;
  const int64_t lat = cfg.latent_channels;

  // Encoder.
  enc_conv_in_ = Conv2d(t, "encoder.conv_in", cfg.in_channels, ch[0], 3, 1, 1);
  int64_t out_ch = ch[0];
  for (size_t i = 0; i < n; ++i) {
    const int64_t in_ch = out_ch;
    out_ch = ch[i];
    const std::string p = idx("encoder.down_blocks", i);
    Level lv;
    for (int j = 0; j < cfg.layers_per_block; ++j)
      lv.resnets.emplace_back(t, idx(p + ".resnets", j), j == 0 ? in_ch : out_ch, out_ch, 0, g, kVaeEps);
    if (i + 1 < n) lv.down.emplace_back(t, p + ".downsamplers.0", out_ch, /*asymmetric_pad=*/true);
    enc_levels_.push_back(std::move(lv));
  }
  const int64_t deep = ch[n - 1];
  enc_mid_.res0 = ResnetBlock2D(t, "encoder.mid_block.resnets.0", deep, deep, 0, g, kVaeEps);
  enc_mid_.attn = VAEAttention(t, "encoder.mid_block.attentions.0", deep, g, kVaeEps);
  enc_mid_.res1 = ResnetBlock2D(t, "encoder.mid_block.resnets.1", deep, deep, 0, g, kVaeEps);
  enc_norm_out_ = GroupNorm(t, "encoder.conv_norm_out", deep, g, kVaeEps);
  enc_conv_out_ = Conv2d(t, "encoder.conv_out", deep, 2 * lat, 3, 1, 1);
  if (cfg.use_quant_conv) quant_conv_ = Conv2d(t, "quant_conv", 2 * lat, 2 * lat, 1, 1, 0);

  // Decoder.
  if (cfg.use_post_quant_conv) post_quant_conv_ = Conv2d(t, "post_quant_conv", lat, lat, 1, 1, 0);
  dec_conv_in_ = Conv2d(t, "decoder.conv_in", lat, deep, 3, 1, 1);
  dec_mid_.res0 = ResnetBlock2D(t, "decoder.mid_block.resnets.0", deep, deep, 0, g, kVaeEps);
  dec_mid_.attn = VAEAttention(t, "decoder.mid_block.attentions.0", deep, g, kVaeEps);
  dec_mid_.res1 = ResnetBlock2D(t, "decoder.mid_block.resnets.1", deep, deep, 0, g, kVaeEps);
  int64_t prev = deep;
  for (size_t i = 0; i < n; ++i) {
    const int64_t level_out = ch[n - 1 - i];
    const std::string p = idx("decoder.up_blocks", i);
    Level lv;
    for (int j = 0; j <= cfg.layers_per_block; ++j)
      lv.resnets.emplace_back(t, idx(p + ".resnets", j), j == 0 ? prev : level_out, level_out, 0, g, kVaeEps);
    if (i + 1 < n) lv.up.emplace_back(t, p + ".upsamplers.0", level_out);
    dec_levels_.push_back(std::move(lv));
    prev = level_out;
  }
  dec_norm_out_ = GroupNorm(t, "decoder.conv_norm_out", ch[0], g, kVaeEps);
  dec_conv_out_ = Conv2d(t, "decoder.conv_out", ch[0], cfg.out_channels, 3, 1, 1);
}

Tensor AutoencoderKL::decode(const Tensor& z, Capture* capture) const {
  if (z.ndim() != 4 || z.dim(1) != cfg_.latent_channels)
    fail("AutoencoderKL::decode: z must be [N, {}, h, w], got {}", cfg_.latent_channels, shape_str(z.shape()));
  auto record = [&](const std::string& name, const Tensor& v) {
    if (capture) (*capture)[name] = v;
  };
  if (cfg_.patch_size > 0) return pixel_shuffle(z, cfg_.patch_size);
  Tensor h = cfg_.use_post_quant_conv ? post_quant_conv_(z) : z;
  record("act.post_quant_conv", h);
  h = dec_conv_in_(h);
  record("act.decoder.conv_in", h);
  h = dec_mid_.res1(dec_mid_.attn(dec_mid_.res0(h)));
  record("act.decoder.mid_block", h);
  for (size_t i = 0; i < dec_levels_.size(); ++i) {
    const Level& lv = dec_levels_[i];
    for (const auto& r : lv.resnets) h = r(h);
    for (const auto& u : lv.up) h = u(h);
    record(idx("act.decoder.up_blocks", i), h);
  }
  return dec_conv_out_(dec_norm_out_(h, /*silu=*/true));
}

Tensor AutoencoderKL::encode_moments(const Tensor& image) const {
  if (image.ndim() != 4 || image.dim(1) != cfg_.in_channels)
    fail("AutoencoderKL::encode: image must be [N, {}, H, W], got {}", cfg_.in_channels, shape_str(image.shape()));
  const int64_t mult = cfg_.downscale();
  if (image.dim(2) % mult != 0 || image.dim(3) % mult != 0)
    fail("AutoencoderKL::encode: image size {}×{} not divisible by {}", image.dim(2), image.dim(3), mult);
  if (cfg_.patch_size > 0) {  // mean = the rearranged pixels, logvar = −30 (the clamp's floor: std ≈ 3e-7)
    Tensor mean = pixel_unshuffle(image, cfg_.patch_size);
    Tensor logvar = Tensor::full(mean.shape(), -30.0f);
    if (mean.device() != logvar.device() || mean.dtype() != logvar.dtype())
      logvar = logvar.to_device(mean.device()).to(mean.dtype());
    return ops::cat({mean, logvar}, 1);
  }
  Tensor h = enc_conv_in_(image);
  for (const Level& lv : enc_levels_) {
    for (const auto& r : lv.resnets) h = r(h);
    for (const auto& d : lv.down) h = d(h);
  }
  h = enc_mid_.res1(enc_mid_.attn(enc_mid_.res0(h)));
  h = enc_conv_out_(enc_norm_out_(h, /*silu=*/true));
  return cfg_.use_quant_conv ? quant_conv_(h) : h;
}

Moments AutoencoderKL::encode(const Tensor& image) const {
  std::vector<Tensor> parts = ops::chunk(encode_moments(image), 2, 1);
  Moments m;
  m.mean = parts[0];
  m.logvar = clamp_logvar(parts[1]);
  m.std = exp_half(m.logvar);
  return m;
}

}  // namespace ls::sd
