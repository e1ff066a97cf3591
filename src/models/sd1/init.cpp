#include "models/sd1/init.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/sd1/keymap.h"

namespace ls::sd {

namespace {

using Params = std::vector<std::pair<std::string, Shape>>;

void add_wb(Params& ps, const std::string& n, Shape w, int64_t bias) {
  ps.emplace_back(n + ".weight", std::move(w));
  if (bias > 0) ps.emplace_back(n + ".bias", Shape{bias});
}
void add_norm(Params& ps, const std::string& n, int64_t c) { add_wb(ps, n, {c}, c); }
void add_conv(Params& ps, const std::string& n, int64_t out, int64_t in, int64_t k) { add_wb(ps, n, {out, in, k, k}, out); }

void unet_resnet(Params& ps, const std::string& n, int64_t in, int64_t out, int64_t temb) {
  add_norm(ps, n + ".norm1", in);
  add_conv(ps, n + ".conv1", out, in, 3);
  add_wb(ps, n + ".time_emb_proj", {out, temb}, out);
  add_norm(ps, n + ".norm2", out);
  add_conv(ps, n + ".conv2", out, out, 3);
  if (in != out) add_conv(ps, n + ".conv_shortcut", out, in, 1);
}

void unet_transformer(Params& ps, const std::string& n, int64_t c, const UNetConfig& cfg) {
  add_norm(ps, n + ".norm", c);
  Shape proj = cfg.use_linear_projection ? Shape{c, c} : Shape{c, c, 1, 1};
  add_wb(ps, n + ".proj_in", proj, c);
  for (int d = 0; d < cfg.transformer_layers_per_block; ++d) {
    std::string b = n + ".transformer_blocks." + std::to_string(d);
    const int64_t ctx = cfg.cross_attention_dim;
    for (const char* a : {".attn1", ".attn2"}) {
      bool cross = std::string(a) == ".attn2";
      add_wb(ps, b + a + ".to_q", {c, c}, 0);
      add_wb(ps, b + a + ".to_k", {c, cross ? ctx : c}, 0);
      add_wb(ps, b + a + ".to_v", {c, cross ? ctx : c}, 0);
      add_wb(ps, b + a + ".to_out.0", {c, c}, c);
    }
    add_wb(ps, b + ".ff.net.0.proj", {8 * c, c}, 8 * c);
    add_wb(ps, b + ".ff.net.2", {c, 4 * c}, c);
    add_norm(ps, b + ".norm1", c);
    add_norm(ps, b + ".norm2", c);
    add_norm(ps, b + ".norm3", c);
  }
  add_wb(ps, n + ".proj_out", proj, c);
}

void vae_resnet(Params& ps, const std::string& n, int64_t in, int64_t out) {
  add_norm(ps, n + ".norm1", in);
  add_conv(ps, n + ".conv1", out, in, 3);
  add_norm(ps, n + ".norm2", out);
  add_conv(ps, n + ".conv2", out, out, 3);
  if (in != out) add_conv(ps, n + ".conv_shortcut", out, in, 1);
}

void vae_mid(Params& ps, const std::string& n, int64_t c) {
  vae_resnet(ps, n + ".resnets.0", c, c);
  add_norm(ps, n + ".attentions.0.group_norm", c);
  for (const char* p : {".to_q", ".to_k", ".to_v", ".to_out.0"}) add_wb(ps, n + ".attentions.0" + p, {c, c}, c);
  vae_resnet(ps, n + ".resnets.1", c, c);
}

}  // namespace

Params unet_param_shapes(const UNetConfig& cfg) {
  const auto& C = cfg.block_out_channels;
  const int n = static_cast<int>(C.size()), L = cfg.layers_per_block;
  LS_CHECK(n > 0 && L > 0, "UNet config: {} blocks, {} layers per block", n, L);
  LS_CHECK(cfg.cross_attn.size() == C.size() && cfg.num_heads.size() == C.size(),
           "UNet config: {} blocks but {} cross_attn flags and {} head counts", n, cfg.cross_attn.size(),
           cfg.num_heads.size());
  const int64_t c0 = C[0], temb = 4 * c0;
  Params ps;
  add_conv(ps, "conv_in", c0, cfg.in_channels, 3);
  add_wb(ps, "time_embedding.linear_1", {temb, c0}, temb);
  add_wb(ps, "time_embedding.linear_2", {temb, temb}, temb);
  for (int i = 0; i < n; ++i) {
    std::string b = "down_blocks." + std::to_string(i);
    int64_t in = i == 0 ? c0 : C[i - 1], out = C[i];
    for (int j = 0; j < L; ++j) {
      unet_resnet(ps, b + ".resnets." + std::to_string(j), j == 0 ? in : out, out, temb);
      if (cfg.cross_attn[i]) unet_transformer(ps, b + ".attentions." + std::to_string(j), out, cfg);
    }
    if (i < n - 1) add_conv(ps, b + ".downsamplers.0.conv", out, out, 3);
  }
  unet_resnet(ps, "mid_block.resnets.0", C[n - 1], C[n - 1], temb);
  unet_transformer(ps, "mid_block.attentions.0", C[n - 1], cfg);
  unet_resnet(ps, "mid_block.resnets.1", C[n - 1], C[n - 1], temb);
  std::vector<int64_t> rev(C.rbegin(), C.rend());
  for (int i = 0; i < n; ++i) {
    std::string b = "up_blocks." + std::to_string(i);
    int64_t out = rev[i], prev = i == 0 ? rev[0] : rev[i - 1], in = rev[std::min(i + 1, n - 1)];
    for (int j = 0; j <= L; ++j) {
      int64_t skip = j == L ? in : out, rin = j == 0 ? prev : out;
      unet_resnet(ps, b + ".resnets." + std::to_string(j), rin + skip, out, temb);
      if (cfg.cross_attn[n - 1 - i]) unet_transformer(ps, b + ".attentions." + std::to_string(j), out, cfg);
    }
    if (i < n - 1) add_conv(ps, b + ".upsamplers.0.conv", out, out, 3);
  }
  add_norm(ps, "conv_norm_out", c0);
  add_conv(ps, "conv_out", cfg.out_channels, c0, 3);
  return ps;
}

Params vae_param_shapes(const VAEConfig& cfg) {
  if (cfg.patch_size > 0) return {};  // pixel-unshuffle: no weights
  const auto& C = cfg.block_out_channels;
  const int n = static_cast<int>(C.size()), L = cfg.layers_per_block;
  LS_CHECK(n > 0 && L > 0, "VAE config: {} blocks, {} layers per block", n, L);
  const int64_t z = cfg.latent_channels, top = C[n - 1];
  Params ps;
  add_conv(ps, "encoder.conv_in", C[0], cfg.in_channels, 3);
  for (int i = 0; i < n; ++i) {
    std::string b = "encoder.down_blocks." + std::to_string(i);
    int64_t in = i == 0 ? C[0] : C[i - 1], out = C[i];
    for (int j = 0; j < L; ++j) vae_resnet(ps, b + ".resnets." + std::to_string(j), j == 0 ? in : out, out);
    if (i < n - 1) add_conv(ps, b + ".downsamplers.0.conv", out, out, 3);
  }
  vae_mid(ps, "encoder.mid_block", top);
  add_norm(ps, "encoder.conv_norm_out", top);
  add_conv(ps, "encoder.conv_out", 2 * z, top, 3);
  if (cfg.use_quant_conv) add_conv(ps, "quant_conv", 2 * z, 2 * z, 1);
  if (cfg.use_post_quant_conv) add_conv(ps, "post_quant_conv", z, z, 1);
  add_conv(ps, "decoder.conv_in", top, z, 3);
  vae_mid(ps, "decoder.mid_block", top);
  std::vector<int64_t> rev(C.rbegin(), C.rend());
  for (int i = 0; i < n; ++i) {
    std::string b = "decoder.up_blocks." + std::to_string(i);
    int64_t out = rev[i], prev = i == 0 ? rev[0] : rev[i - 1];
    for (int j = 0; j <= L; ++j) vae_resnet(ps, b + ".resnets." + std::to_string(j), j == 0 ? prev : out, out);
    if (i < n - 1) add_conv(ps, b + ".upsamplers.0.conv", out, out, 3);
  }
  add_norm(ps, "decoder.conv_norm_out", C[0]);
  add_conv(ps, "decoder.conv_out", cfg.out_channels, C[0], 3);
  return ps;
}

Params text_param_shapes(const CLIPTextConfig& cfg) {
  const int64_t H = cfg.hidden_size, I = cfg.intermediate_size;
  LS_CHECK(H > 0 && I > 0 && cfg.num_hidden_layers > 0, "text encoder config: hidden {}, intermediate {}, layers {}",
           H, I, cfg.num_hidden_layers);
  Params ps;
  ps.emplace_back("text_model.embeddings.token_embedding.weight", Shape{cfg.vocab_size, H});
  ps.emplace_back("text_model.embeddings.position_embedding.weight", Shape{cfg.max_position_embeddings, H});
  for (int l = 0; l < cfg.num_hidden_layers; ++l) {
    std::string b = "text_model.encoder.layers." + std::to_string(l);
    for (const char* p : {".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj", ".self_attn.out_proj"})
      add_wb(ps, b + p, {H, H}, H);
    add_norm(ps, b + ".layer_norm1", H);
    add_wb(ps, b + ".mlp.fc1", {I, H}, I);
    add_wb(ps, b + ".mlp.fc2", {H, I}, H);
    add_norm(ps, b + ".layer_norm2", H);
  }
  add_norm(ps, "text_model.final_layer_norm", H);
  return ps;
}

}  // namespace ls::sd

namespace ls::sd {

InitArch init_arch_from_name(const std::string& s) {
  if (s == "sd1") return InitArch::SD1;
  if (s == "sd2") return InitArch::SD2;
  if (s == "tiny") return InitArch::Tiny;
  if (s == "emoji") return InitArch::Emoji;
  fail("model init: unknown --arch '{}' (sd1, sd2, tiny or emoji)", s);
}

ModelConfigs preset_configs(InitArch arch) {
  ModelConfigs c;  // struct defaults are SD1.5
  if (arch == InitArch::SD2) {
    c.unet.num_heads = {5, 10, 20, 20};
    c.unet.cross_attention_dim = 1024;
    c.unet.use_linear_projection = true;
    c.text.hidden_size = 1024;
    c.text.intermediate_size = 4096;
    c.text.num_attention_heads = 16;
    c.text.num_hidden_layers = 24;
    c.text.hidden_act = "gelu";
    c.text.pad_token_id = 0;
  } else if (arch == InitArch::Tiny) {
    c.unet.block_out_channels = {32, 64, 64, 64};
    c.unet.cross_attention_dim = 32;
    c.unet.sample_size = 16;
    c.vae.block_out_channels = {32, 64, 64, 64};
    c.vae.sample_size = 128;
    c.text.hidden_size = 32;
    c.text.intermediate_size = 64;
    c.text.num_attention_heads = 4;
    c.text.num_hidden_layers = 3;
  } else if (arch == InitArch::Emoji) {
    // Pixel space: 64×64 emoji are small enough to diffuse directly (the "VAE" is the identity, patch 1).
    // Patch-2 and patch-4 pixel unshuffles (12 or 48 channels of interleaved sub-pixels at 32² / 16²) were
    // tried and did not learn: 40 steps at batch 8, lr 1e-3 left the loss at 1.0 (the zero predictor), where
    // patch 1 reached 0.24 (docs/emoji-model.md).
    c.vae.patch_size = 1;
    c.vae.in_channels = c.vae.out_channels = 3;
    c.vae.latent_channels = 3;
    c.vae.sample_size = 64;
    c.vae.scaling_factor = 1.7f;  // 1 / std of the Twemoji pixels in [-1, 1] (0.584): unit-variance latents, as SD's
    c.unet.in_channels = c.unet.out_channels = 3;
    c.unet.block_out_channels = {64, 128, 128, 128};
    c.unet.layers_per_block = 1;
    c.unet.num_heads = {4, 4, 4, 4};
    c.unet.cross_attn = {false, false, true, true};  // cross-attention at 16² and 8²
    c.unet.cross_attention_dim = 128;
    c.unet.sample_size = 64;
    c.text.hidden_size = 128;
    c.text.intermediate_size = 512;
    c.text.num_attention_heads = 4;
    c.text.num_hidden_layers = 4;
    c.scheduler.beta_schedule = "linear";  // DDPM's pixel-space schedule (Ho et al. 2020): 1e-4 … 0.02
    c.scheduler.beta_start = 0.0001f;
    c.scheduler.beta_end = 0.02f;
  }
  return c;
}

namespace {

/// splitmix64: the per-parameter seed stream.
uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t name_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

/// Is `name` (a ".weight") a normalisation layer's gamma?
bool is_norm(const std::string& name, const Shape& shape) {
  return shape.size() == 1 && ends_with(name, ".weight");
}

bool is_output_layer(const std::string& n) {
  for (const char* k : {"proj_out.", "to_out.0.", "ff.net.2.", "mlp.fc2.", "out_proj.", "conv2."})
    if (n.find(k) != std::string::npos) return true;
  return false;
}

/// Fill every parameter of `shapes` (Box–Muller normals from a splitmix64 stream seeded by seed ⊕ name).
std::map<std::string, Tensor> fill(const std::vector<std::pair<std::string, Shape>>& shapes, uint64_t seed) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, shape] : shapes) {
    Tensor t = Tensor::zeros(shape, DType::F32);
    auto v = t.f32();
    if (ends_with(name, ".bias")) {
      // zeros
    } else if (is_norm(name, shape)) {
      for (auto& x : v) x = 1.0f;
    } else {
      float stddev;
      if (name.find("embedding.weight") != std::string::npos && name.find("time_embedding") == std::string::npos) {
        stddev = 0.02f;
      } else {
        int64_t fan_in = 1;
        for (size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
        stddev = 1.0f / std::sqrt(static_cast<float>(fan_in));
        if (is_output_layer(name)) stddev *= 0.5f;
      }
      uint64_t st = seed ^ name_hash(name);
      for (size_t i = 0; i < v.size(); i += 2) {
        double u1 = (static_cast<double>(splitmix(st) >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
        double u2 = static_cast<double>(splitmix(st) >> 11) * 0x1.0p-53;
        double r = std::sqrt(-2.0 * std::log(u1)), a = 2.0 * 3.14159265358979323846 * u2;
        v[i] = static_cast<float>(r * std::cos(a)) * stddev;
        if (i + 1 < v.size()) v[i + 1] = static_cast<float>(r * std::sin(a)) * stddev;
      }
    }
    out.emplace(name, std::move(t));
  }
  return out;
}

nlohmann::json unet_json(const UNetConfig& c) {
  nlohmann::json down = nlohmann::json::array(), up = nlohmann::json::array();
  for (size_t i = 0; i < c.cross_attn.size(); ++i) down.push_back(c.cross_attn[i] ? "CrossAttnDownBlock2D" : "DownBlock2D");
  for (size_t i = c.cross_attn.size(); i-- > 0;) up.push_back(c.cross_attn[i] ? "CrossAttnUpBlock2D" : "UpBlock2D");
  bool same = std::all_of(c.num_heads.begin(), c.num_heads.end(), [&](int h) { return h == c.num_heads[0]; });
  return {{"_class_name", "UNet2DConditionModel"}, {"act_fn", "silu"},
          {"attention_head_dim", same ? nlohmann::json(c.num_heads[0]) : nlohmann::json(c.num_heads)},
          {"block_out_channels", c.block_out_channels}, {"center_input_sample", false},
          {"cross_attention_dim", c.cross_attention_dim}, {"down_block_types", down}, {"downsample_padding", 1},
          {"flip_sin_to_cos", c.flip_sin_to_cos}, {"freq_shift", c.freq_shift}, {"in_channels", c.in_channels},
          {"layers_per_block", c.layers_per_block}, {"mid_block_scale_factor", 1}, {"norm_eps", c.norm_eps},
          {"norm_num_groups", c.norm_num_groups}, {"out_channels", c.out_channels}, {"sample_size", c.sample_size},
          {"transformer_layers_per_block", c.transformer_layers_per_block}, {"up_block_types", up},
          {"upcast_attention", c.upcast_attention}, {"use_linear_projection", c.use_linear_projection}};
}

nlohmann::json vae_json(const VAEConfig& c) {
  if (c.patch_size > 0)
    return {{"_class_name", "PixelUnshuffleVAE"}, {"patch_size", c.patch_size}, {"in_channels", c.in_channels},
            {"out_channels", c.out_channels}, {"latent_channels", c.latent_channels},
            {"sample_size", c.sample_size}, {"scaling_factor", c.scaling_factor}};
  nlohmann::json down = nlohmann::json::array(), up = nlohmann::json::array();
  for (size_t i = 0; i < c.block_out_channels.size(); ++i) {
    down.push_back("DownEncoderBlock2D");
    up.push_back("UpDecoderBlock2D");
  }
  return {{"_class_name", "AutoencoderKL"}, {"act_fn", "silu"}, {"block_out_channels", c.block_out_channels},
          {"down_block_types", down}, {"up_block_types", up}, {"in_channels", c.in_channels},
          {"out_channels", c.out_channels}, {"latent_channels", c.latent_channels},
          {"layers_per_block", c.layers_per_block}, {"norm_num_groups", c.norm_num_groups},
          {"sample_size", c.sample_size}, {"scaling_factor", c.scaling_factor},
          {"use_quant_conv", c.use_quant_conv}, {"use_post_quant_conv", c.use_post_quant_conv}};
}

nlohmann::json text_json(const CLIPTextConfig& c) {
  return {{"architectures", {"CLIPTextModel"}}, {"model_type", "clip_text_model"}, {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
          {"num_attention_heads", c.num_attention_heads}, {"num_hidden_layers", c.num_hidden_layers},
          {"max_position_embeddings", c.max_position_embeddings}, {"hidden_act", c.hidden_act},
          {"layer_norm_eps", c.layer_norm_eps}, {"bos_token_id", c.bos_token_id}, {"eos_token_id", c.eos_token_id},
          {"pad_token_id", c.pad_token_id}, {"projection_dim", c.hidden_size}};
}

nlohmann::json scheduler_json(const SchedulerConfig& c) {
  return {{"_class_name", "PNDMScheduler"}, {"beta_start", c.beta_start}, {"beta_end", c.beta_end},
          {"beta_schedule", c.beta_schedule}, {"num_train_timesteps", c.num_train_timesteps},
          {"prediction_type", c.prediction_type}, {"steps_offset", c.steps_offset},
          {"set_alpha_to_one", c.set_alpha_to_one}, {"skip_prk_steps", true}, {"clip_sample", false}};
}

void write_json(const std::filesystem::path& p, const nlohmann::json& j) {
  std::ofstream out(p);
  if (!out) fail("{}: cannot open for writing", p.string());
  out << j.dump(2) << "\n";
  if (!out) fail("{}: write failed", p.string());
}

std::map<std::string, Tensor> converted(const std::map<std::string, Tensor>& m, DType dt) {
  std::map<std::string, Tensor> r;
  for (const auto& [k, t] : m) r.emplace(k, t.to(dt));
  return r;
}

}  // namespace

InitWeights init_weights(const ModelConfigs& cfg, uint64_t seed) {
  InitWeights w;
  w.unet = fill(unet_param_shapes(cfg.unet), seed ^ 0x756e6574ull);
  w.vae = fill(vae_param_shapes(cfg.vae), seed ^ 0x766165ull);
  w.text = fill(text_param_shapes(cfg.text), seed ^ 0x74657874ull);
  return w;
}

void write_initialized_model(const ModelConfigs& cfg, uint64_t seed, const std::string& out, DType dtype) {
  write_model(cfg, init_weights(cfg, seed), out, dtype, {{"lorastack_init_seed", std::to_string(seed)}});
}

void write_model(const ModelConfigs& cfg, const InitWeights& w, const std::string& out, DType dtype,
                 const std::map<std::string, std::string>& metadata) {
  LS_CHECK(dtype_is_float(dtype), "{}: model dtype {} is not a float type", out, dtype_name(dtype));
  namespace fs = std::filesystem;
  if (ends_with(out, ".safetensors")) {
    if (cfg.vae.patch_size > 0)
      fail("{}: a pixel-space model (pixel-unshuffle VAE) has no single-file form; give a folder name to write a "
           "diffusers folder", out);
    std::map<std::string, Tensor> all;
    for (const auto& [k, t] : w.unet) all.emplace(kUNetPrefix + unet_diffusers_to_ldm(k, cfg.unet), t.to(dtype));
    for (const auto& [k, t] : w.vae) {
      Tensor v = t.to(dtype);
      if (vae_is_attention_projection(k)) v = v.reshape({v.dim(0), v.dim(1), 1, 1});
      all.emplace(kVAEPrefix + vae_diffusers_to_ldm(k, cfg.vae), v);
    }
    for (const auto& [k, t] : w.text) all.emplace(kTextPrefix + text_diffusers_to_ldm(k), t.to(dtype));
    const int64_t P = cfg.text.max_position_embeddings;
    Tensor pos = Tensor::empty({1, P}, DType::I64);
    for (int64_t i = 0; i < P; ++i) pos.data<int64_t>()[i] = i;
    all.emplace(std::string(kTextPrefix) + "text_model.embeddings.position_ids", pos);
    for (const auto& [k, t] : all)
      LS_CHECK(k.find("..") == std::string::npos && k.back() != '.', "{}: internal key mapping failed for '{}'", out, k);
    std::error_code ec;
    if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path(), ec);
    std::map<std::string, std::string> meta = metadata;
    meta["format"] = "pt";
    io::write_safetensors(out, all, meta);
    return;
  }
  fs::path root(out);
  std::error_code ec;
  for (const char* sub : {"unet", "vae", "text_encoder", "scheduler"}) {
    fs::create_directories(root / sub, ec);
    if (ec) fail("{}: cannot create folder {}: {}", out, (root / sub).string(), ec.message());
  }
  std::map<std::string, std::string> pt_meta = metadata;
  pt_meta["format"] = "pt";
  write_json(root / "model_index.json",
             {{"_class_name", "StableDiffusionPipeline"}, {"feature_extractor", {nullptr, nullptr}},
              {"safety_checker", {nullptr, nullptr}}, {"requires_safety_checker", false},
              {"scheduler", {"diffusers", "PNDMScheduler"}}, {"text_encoder", {"transformers", "CLIPTextModel"}},
              {"tokenizer", {"transformers", "CLIPTokenizer"}}, {"unet", {"diffusers", "UNet2DConditionModel"}},
              {"vae", {"diffusers", "AutoencoderKL"}}});
  write_json(root / "unet" / "config.json", unet_json(cfg.unet));
  write_json(root / "vae" / "config.json", vae_json(cfg.vae));
  write_json(root / "text_encoder" / "config.json", text_json(cfg.text));
  write_json(root / "scheduler" / "scheduler_config.json", scheduler_json(cfg.scheduler));
  io::write_safetensors((root / "unet" / "diffusion_pytorch_model.safetensors").string(), converted(w.unet, dtype),
                        pt_meta);
  if (cfg.vae.patch_size == 0)
    io::write_safetensors((root / "vae" / "diffusion_pytorch_model.safetensors").string(), converted(w.vae, dtype),
                          pt_meta);
  io::write_safetensors((root / "text_encoder" / "model.safetensors").string(), converted(w.text, dtype),
                        pt_meta);
}

LoadedModel random_model(const ModelConfigs& cfg, uint64_t seed) {
  auto w = init_weights(cfg, seed);
  LoadedModel m;
  m.source = "random";
  m.family = cfg.unet.cross_attention_dim == 1024 ? Family::SD2 : Family::SD1;
  m.unet_config = cfg.unet;
  m.vae_config = cfg.vae;
  m.text_config = cfg.text;
  m.scheduler_config = cfg.scheduler;
  m.unet.tensors = std::move(w.unet);
  m.vae.tensors = std::move(w.vae);
  m.text_encoder.tensors = std::move(w.text);
  return m;
}

}  // namespace ls::sd
