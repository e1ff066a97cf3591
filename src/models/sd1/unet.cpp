#include "models/sd1/unet.h"

#include "runtime/autograd.h"

#include <string>

namespace ls::sd {

namespace {

void check_config(const std::string& comp, const UNetConfig& c) {
  const size_t n = c.block_out_channels.size();
  if (n == 0) fail("{}: block_out_channels is empty", comp);
  if (c.num_heads.size() != n)
    fail("{}: {} attention head counts for {} blocks", comp, c.num_heads.size(), n);
  if (c.cross_attn.size() != n) fail("{}: {} cross_attn flags for {} blocks", comp, c.cross_attn.size(), n);
  if (c.layers_per_block < 1) fail("{}: layers_per_block {} must be ≥ 1", comp, c.layers_per_block);
  if (c.transformer_layers_per_block < 1)
    fail("{}: transformer_layers_per_block {} must be ≥ 1", comp, c.transformer_layers_per_block);
  for (size_t i = 0; i < n; ++i)
    if (c.block_out_channels[i] <= 0 || c.block_out_channels[i] % c.norm_num_groups != 0)
      fail("{}: block_out_channels[{}] = {} not divisible into {} groups", comp, i, c.block_out_channels[i],
           c.norm_num_groups);
}

std::string idx(const std::string& base, size_t i) { return base + "." + std::to_string(i); }

}  // namespace

UNet2DConditionModel::UNet2DConditionModel(ParamTable& t, const UNetConfig& cfg) : cfg_(cfg) {
  const std::string comp = t.component();
  check_config(comp, cfg);
  const auto& ch = cfg.block_out_channels;
  const size_t n = ch.size();
  const int64_t temb_dim = static_cast<int64_t>(ch[0]) * 4;
  const int g = cfg.norm_num_groups;
  const float eps = cfg.norm_eps;
  const int depth = cfg.transformer_layers_per_block;
  const bool lin = cfg.use_linear_projection;
  const int64_t ctx = cfg.cross_attention_dim;

  time_linear_1_ = Linear(t, "time_embedding.linear_1", ch[0], temb_dim);
  time_linear_2_ = Linear(t, "time_embedding.linear_2", temb_dim, temb_dim);
  conv_in_ = Conv2d(t, "conv_in", cfg.in_channels, ch[0], 3, 1, 1);

  // Down levels.
  int64_t out_ch = ch[0];
  for (size_t i = 0; i < n; ++i) {
    const int64_t in_ch = out_ch;
    out_ch = ch[i];
    const std::string p = idx("down_blocks", i);
    Level lv;
    for (int j = 0; j < cfg.layers_per_block; ++j) {
      lv.resnets.emplace_back(t, idx(p + ".resnets", j), j == 0 ? in_ch : out_ch, out_ch, temb_dim, g, eps);
      if (cfg.cross_attn[i])
        lv.attentions.emplace_back(t, idx(p + ".attentions", j), out_ch, cfg.num_heads[i], ctx, depth, g, lin);
    }
    if (i + 1 < n) lv.down.emplace_back(t, p + ".downsamplers.0", out_ch, /*asymmetric_pad=*/false);
    down_.push_back(std::move(lv));
  }

  // Mid block (UNetMidBlock2DCrossAttn) at the deepest width, heads of the last down block.
  const int64_t mid_ch = ch[n - 1];
  mid_res0_ = ResnetBlock2D(t, "mid_block.resnets.0", mid_ch, mid_ch, temb_dim, g, eps);
  mid_attn_ = Transformer2DModel(t, "mid_block.attentions.0", mid_ch, cfg.num_heads[n - 1], ctx, depth, g, lin);
  mid_res1_ = ResnetBlock2D(t, "mid_block.resnets.1", mid_ch, mid_ch, temb_dim, g, eps);

  // Up levels mirror the down levels (reversed widths, heads and cross-attention flags).
  int64_t prev_out = ch[n - 1];
  for (size_t i = 0; i < n; ++i) {
    const size_t r = n - 1 - i;                      // matching down level
    const int64_t level_out = ch[r];
    const int64_t level_in = ch[r == 0 ? 0 : r - 1];  // width of the skips from the level below
    const std::string p = idx("up_blocks", i);
    Level lv;
    for (int j = 0; j <= cfg.layers_per_block; ++j) {
      const int64_t skip_ch = j == cfg.layers_per_block ? level_in : level_out;
      const int64_t res_in = j == 0 ? prev_out : level_out;
      lv.resnets.emplace_back(t, idx(p + ".resnets", j), res_in + skip_ch, level_out, temb_dim, g, eps);
      if (cfg.cross_attn[r])
        lv.attentions.emplace_back(t, idx(p + ".attentions", j), level_out, cfg.num_heads[r], ctx, depth, g, lin);
    }
    if (i + 1 < n) lv.up.emplace_back(t, p + ".upsamplers.0", level_out);
    up_.push_back(std::move(lv));
    prev_out = level_out;
  }

  conv_norm_out_ = GroupNorm(t, "conv_norm_out", ch[0], g, eps);
  conv_out_ = Conv2d(t, "conv_out", ch[0], cfg.out_channels, 3, 1, 1);
}

Tensor UNet2DConditionModel::forward(const Tensor& x, const Tensor& timesteps, const Tensor& context,
                                     Capture* capture) const {
  const size_t n = cfg_.block_out_channels.size();
  if (x.ndim() != 4 || x.dim(1) != cfg_.in_channels)
    fail("UNet2DConditionModel: x must be [N, {}, h, w], got {}", cfg_.in_channels, shape_str(x.shape()));
  const int64_t batch = x.dim(0);
  const int64_t mult = int64_t{1} << (n - 1);
  if (x.dim(2) % mult != 0 || x.dim(3) % mult != 0)
    fail("UNet2DConditionModel: latent size {}×{} not divisible by {}", x.dim(2), x.dim(3), mult);
  if (context.ndim() != 3 || context.dim(0) != batch || context.dim(2) != cfg_.cross_attention_dim)
    fail("UNet2DConditionModel: context must be [{}, L, {}], got {}", batch, cfg_.cross_attention_dim,
         shape_str(context.shape()));
  if (timesteps.ndim() != 1 || (timesteps.dim(0) != batch && timesteps.dim(0) != 1))
    fail("UNet2DConditionModel: timesteps must be [{}] or [1], got {}", batch, shape_str(timesteps.shape()));

  auto record = [&](const std::string& name, const Tensor& v) {
    if (capture) (*capture)[name] = v;
  };
  // With gradient checkpointing on and a tape recording, each resnet / transformer block keeps only its
  // inputs; the lambdas capture the block by reference (it outlives the tape) and the rest by value.
  const bool ckpt = checkpointing_ && autograd::recording() && !capture;
  auto run_resnet = [ckpt](const ResnetBlock2D& r, const Tensor& x_in, const Tensor& temb_in) {
    if (!ckpt) return r(x_in, temb_in);
    return autograd::checkpoint([&r](const std::vector<Tensor>& v) { return r(v[0], v[1]); }, {x_in, temb_in});
  };
  auto run_attention = [ckpt](const Transformer2DModel& a, const Tensor& x_in, const Tensor& ctx, Capture* cap) {
    if (!ckpt) return a(x_in, ctx, cap);
    return autograd::checkpoint([&a](const std::vector<Tensor>& v) { return a(v[0], v[1], nullptr); }, {x_in, ctx});
  };

  // Time embedding.
  Tensor t = timesteps.to(DType::F32);
  if (t.dim(0) != batch) {
    const float v = t.f32()[0];
    t = Tensor::full({batch}, v);
  }
  Tensor temb = ops::timestep_embedding(t, cfg_.block_out_channels[0], cfg_.flip_sin_to_cos, cfg_.freq_shift);
  record("act.time_proj", temb);
  temb = time_linear_2_(ops::silu(time_linear_1_(temb)));
  record("act.time_embedding", temb);
  const Tensor temb_act = ops::silu(temb);  // every resnet applies SiLU before time_emb_proj

  Tensor h = conv_in_(x);
  record("act.conv_in", h);
  std::vector<Tensor> skips{h};

  for (size_t i = 0; i < n; ++i) {
    const Level& lv = down_[i];
    for (size_t j = 0; j < lv.resnets.size(); ++j) {
      h = run_resnet(lv.resnets[j], h, temb_act);
      if (!lv.attentions.empty()) h = run_attention(lv.attentions[j], h, context, capture);
      skips.push_back(h);
    }
    for (const auto& d : lv.down) {
      h = d(h);
      skips.push_back(h);
    }
    record(idx("act.down_blocks", i), h);
  }

  h = run_resnet(mid_res0_, h, temb_act);
  h = run_attention(mid_attn_, h, context, capture);
  h = run_resnet(mid_res1_, h, temb_act);
  record("act.mid_block", h);

  for (size_t i = 0; i < n; ++i) {
    const Level& lv = up_[i];
    for (size_t j = 0; j < lv.resnets.size(); ++j) {
      if (skips.empty()) fail("UNet2DConditionModel: internal error, skip stack empty");
      h = ops::cat({h, skips.back()}, 1);
      skips.pop_back();
      h = run_resnet(lv.resnets[j], h, temb_act);
      if (!lv.attentions.empty()) h = run_attention(lv.attentions[j], h, context, capture);
    }
    for (const auto& u : lv.up) h = u(h);
    record(idx("act.up_blocks", i), h);
  }

  h = conv_norm_out_(h, /*silu=*/true);
  record("act.conv_norm_out_silu", h);
  return conv_out_(h);
}

}  // namespace ls::sd
