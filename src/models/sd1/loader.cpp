#include "models/sd1/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "io/weights.h"
#include "models/sd1/init.h"
#include "models/sd1/keymap.h"

namespace ls::sd {

namespace {

namespace fs = std::filesystem;
using TensorMap = std::map<std::string, Tensor>;

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// ---------------------------------------------------------------- family

bool is_unet_attention_key(const std::string& k) {
  return k.find("input_blocks.") != std::string::npos || k.find("middle_block.") != std::string::npos ||
         k.find("output_blocks.") != std::string::npos || k.find("down_blocks.") != std::string::npos ||
         k.find("mid_block.") != std::string::npos || k.find("up_blocks.") != std::string::npos;
}

// ---------------------------------------------------------------- config sanity (issue 4)
// Config values come from files people download: every size is bounded before it is multiplied, shifted,
// divided by or used as a loop count (limits far above any real SD model, far below overflow).

constexpr int kMaxChannels = 1 << 16;  ///< block / hidden / context widths
constexpr int kMaxLevels = 8;          ///< entries of block_out_channels / channel_mult
constexpr int kMaxRepeats = 64;        ///< layers_per_block, transformer depth
constexpr int kMaxLayers = 256;        ///< text encoder layers

void check_range(long long v, long long lo, long long hi, const std::string& file, const char* what) {
  if (v < lo || v > hi) fail("{}: {} = {} is outside {}..{}", file, what, v, lo, hi);
}
void check_finite(float v, const std::string& file, const char* what) {
  if (!std::isfinite(v)) fail("{}: {} = {} is not a finite number", file, what, v);
}

void check_unet_config(const UNetConfig& c, const std::string& file) {
  check_range(c.in_channels, 1, 1024, file, "in_channels");
  check_range(c.out_channels, 1, 1024, file, "out_channels");
  check_range(static_cast<long long>(c.block_out_channels.size()), 1, kMaxLevels, file, "number of UNet blocks");
  check_range(c.norm_num_groups, 1, kMaxChannels, file, "norm_num_groups");
  for (int ch : c.block_out_channels) {
    check_range(ch, 1, kMaxChannels, file, "block_out_channels entry");
    if (ch % c.norm_num_groups) fail("{}: block_out_channels entry {} is not a multiple of norm_num_groups {}", file, ch, c.norm_num_groups);
  }
  if (c.num_heads.size() != c.block_out_channels.size() || c.cross_attn.size() != c.block_out_channels.size())
    fail("{}: {} head counts / attention flags for {} UNet blocks", file, c.num_heads.size(), c.block_out_channels.size());
  for (size_t i = 0; i < c.num_heads.size(); ++i) {
    check_range(c.num_heads[i], 1, kMaxChannels, file, "attention heads");
    if (c.block_out_channels[i] % c.num_heads[i])
      fail("{}: {} channels do not split into {} attention heads", file, c.block_out_channels[i], c.num_heads[i]);
  }
  check_range(c.layers_per_block, 1, kMaxRepeats, file, "layers_per_block");
  check_range(c.transformer_layers_per_block, 1, kMaxRepeats, file, "transformer_layers_per_block");
  check_range(c.cross_attention_dim, 1, kMaxChannels, file, "cross_attention_dim");
  check_range(c.sample_size, 1, kMaxChannels, file, "sample_size");
  check_finite(c.norm_eps, file, "norm_eps");
  check_finite(c.freq_shift, file, "freq_shift");
}

void check_vae_config(const VAEConfig& c, const std::string& file) {
  check_range(c.in_channels, 1, 1024, file, "in_channels");
  check_range(c.out_channels, 1, 1024, file, "out_channels");
  check_range(c.latent_channels, 1, 1024, file, "latent_channels");
  check_range(static_cast<long long>(c.block_out_channels.size()), 1, kMaxLevels, file, "number of VAE blocks");
  check_range(c.norm_num_groups, 1, kMaxChannels, file, "norm_num_groups");
  for (int ch : c.block_out_channels) {
    check_range(ch, 1, kMaxChannels, file, "block_out_channels entry");
    if (ch % c.norm_num_groups) fail("{}: block_out_channels entry {} is not a multiple of norm_num_groups {}", file, ch, c.norm_num_groups);
  }
  check_range(c.layers_per_block, 1, kMaxRepeats, file, "layers_per_block");
  check_range(c.sample_size, 1, kMaxChannels, file, "sample_size");
  check_finite(c.scaling_factor, file, "scaling_factor");
  if (c.scaling_factor == 0.0f) fail("{}: scaling_factor is 0", file);
}

void check_text_config(const CLIPTextConfig& c, const std::string& file) {
  check_range(c.vocab_size, 1, 1 << 20, file, "vocab_size");
  check_range(c.hidden_size, 1, kMaxChannels, file, "hidden_size");
  check_range(c.intermediate_size, 1, 4 * kMaxChannels, file, "intermediate_size");
  check_range(c.num_attention_heads, 1, c.hidden_size, file, "num_attention_heads");
  if (c.hidden_size % c.num_attention_heads)
    fail("{}: hidden_size {} does not split into {} attention heads", file, c.hidden_size, c.num_attention_heads);
  check_range(c.num_hidden_layers, 1, kMaxLayers, file, "num_hidden_layers");
  check_range(c.max_position_embeddings, 2, 4096, file, "max_position_embeddings");
  check_finite(c.layer_norm_eps, file, "layer_norm_eps");
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu")
    fail("{}: hidden_act '{}' is not supported (quick_gelu or gelu)", file, c.hidden_act.substr(0, 40));
}

void check_scheduler_config(const SchedulerConfig& c, const std::string& file) {
  check_range(c.num_train_timesteps, 1, 100000, file, "num_train_timesteps");
  check_range(c.steps_offset, 0, c.num_train_timesteps - 1, file, "steps_offset");
  for (float b : {c.beta_start, c.beta_end})
    if (!(b > 0.0f && b < 1.0f)) fail("{}: beta {} is outside (0, 1)", file, b);
}

// ---------------------------------------------------------------- config.json readers

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path);
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
}

// nlohmann converts a float to an int with a plain cast (undefined beyond the int range), so integers are
// read here: an integer, or a float that holds an integral value, within the range of T.
template <typename T>
bool json_to(const nlohmann::json& x, T& out) {
  if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
    if (!(std::is_same_v<T, bool> ? x.is_boolean() : x.is_string())) return false;
    out = x.get<T>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!x.is_number()) return false;
    const double d = x.get<double>();
    if (!(d == std::floor(d) && d >= static_cast<double>(std::numeric_limits<T>::min()) &&
          d <= static_cast<double>(std::numeric_limits<T>::max())))
      return false;
    out = x.is_number_float() ? static_cast<T>(d) : x.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!x.is_number()) return false;
    const double d = x.get<double>();
    if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max())) return false;
    out = static_cast<T>(d);
  } else {  // std::vector<U>
    if (!x.is_array()) return false;
    T v(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      if (!json_to(x[i], v[i])) return false;
    out = std::move(v);
  }
  return true;
}

template <typename T>
void get_opt(const nlohmann::json& j, const char* key, T& v, const std::string& file) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!json_to(j[key], v))
    fail("{}: field '{}' has value {} of the wrong type or out of range", file, key, j[key].dump().substr(0, 80));
}

UNetConfig unet_from_json(const nlohmann::json& j, const std::string& file) {
  UNetConfig c;
  get_opt(j, "in_channels", c.in_channels, file);
  get_opt(j, "out_channels", c.out_channels, file);
  get_opt(j, "block_out_channels", c.block_out_channels, file);
  get_opt(j, "layers_per_block", c.layers_per_block, file);
  get_opt(j, "cross_attention_dim", c.cross_attention_dim, file);
  get_opt(j, "use_linear_projection", c.use_linear_projection, file);
  get_opt(j, "upcast_attention", c.upcast_attention, file);
  get_opt(j, "norm_num_groups", c.norm_num_groups, file);
  get_opt(j, "norm_eps", c.norm_eps, file);
  get_opt(j, "flip_sin_to_cos", c.flip_sin_to_cos, file);
  get_opt(j, "freq_shift", c.freq_shift, file);
  get_opt(j, "sample_size", c.sample_size, file);
  const size_t n = c.block_out_channels.size();
  if (n == 0) fail("{}: block_out_channels is empty", file);
  if (j.contains("transformer_layers_per_block") && j["transformer_layers_per_block"].is_array())
    fail("{}: per-block transformer_layers_per_block lists are not supported (SDXL-style UNet)", file);
  get_opt(j, "transformer_layers_per_block", c.transformer_layers_per_block, file);
  // diffusers: num_attention_heads falls back to the legacy attention_head_dim (which means heads for SD1/2).
  const char* hk = j.contains("num_attention_heads") && !j["num_attention_heads"].is_null() ? "num_attention_heads"
                                                                                            : "attention_head_dim";
  c.num_heads.assign(n, 8);
  if (j.contains(hk) && !j[hk].is_null()) {
    int h = 0;
    if (json_to(j[hk], h)) {
      c.num_heads.assign(n, h);
    } else if (j[hk].is_array() && j[hk].size() == n) {
      for (size_t i = 0; i < n; ++i) {
        if (!json_to(j[hk][i], c.num_heads[i]))
          fail("{}: {} entry {} is not an integer", file, hk, j[hk][i].dump().substr(0, 80));
      }
    } else {
      fail("{}: {} = {} is neither an int nor a list of {} ints", file, hk, j[hk].dump(), n);
    }
  }
  c.cross_attn.assign(n, false);
  if (j.contains("down_block_types")) {
    const auto& d = j["down_block_types"];
    if (!d.is_array() || d.size() != n) fail("{}: down_block_types must list {} block types", file, n);
    for (size_t i = 0; i < n; ++i) {
      std::string t = d[i].is_string() ? d[i].get<std::string>() : "";
      if (t == "CrossAttnDownBlock2D") c.cross_attn[i] = true;
      else if (t != "DownBlock2D") fail("{}: down block type '{}' is not supported", file, t);
    }
  } else {
    for (size_t i = 0; i + 1 < n; ++i) c.cross_attn[i] = true;
  }
  check_unet_config(c, file);
  return c;
}

VAEConfig vae_from_json(const nlohmann::json& j, const std::string& file) {
  VAEConfig c;
  if (j.is_object() && j.value("_class_name", nlohmann::json()).is_string() &&
      j["_class_name"].get<std::string>() == "PixelUnshuffleVAE") {
    c.patch_size = 0;
    get_opt(j, "patch_size", c.patch_size, file);
    check_range(c.patch_size, 1, 64, file, "patch_size");
    get_opt(j, "in_channels", c.in_channels, file);
    c.out_channels = c.in_channels;
    check_range(c.in_channels, 1, 64, file, "in_channels");
    c.latent_channels = c.in_channels * c.patch_size * c.patch_size;
    get_opt(j, "scaling_factor", c.scaling_factor, file);
    get_opt(j, "sample_size", c.sample_size, file);
    check_finite(c.scaling_factor, file, "scaling_factor");
    if (c.scaling_factor == 0.0f) fail("{}: scaling_factor is 0", file);
    check_range(c.sample_size, 1, kMaxChannels, file, "sample_size");
    return c;
  }
  get_opt(j, "in_channels", c.in_channels, file);
  get_opt(j, "out_channels", c.out_channels, file);
  get_opt(j, "latent_channels", c.latent_channels, file);
  get_opt(j, "block_out_channels", c.block_out_channels, file);
  get_opt(j, "layers_per_block", c.layers_per_block, file);
  get_opt(j, "norm_num_groups", c.norm_num_groups, file);
  get_opt(j, "scaling_factor", c.scaling_factor, file);
  get_opt(j, "use_quant_conv", c.use_quant_conv, file);
  get_opt(j, "use_post_quant_conv", c.use_post_quant_conv, file);
  get_opt(j, "sample_size", c.sample_size, file);
  if (c.block_out_channels.empty()) fail("{}: block_out_channels is empty", file);
  check_vae_config(c, file);
  return c;
}

CLIPTextConfig text_from_json(const nlohmann::json& j, const std::string& file) {
  CLIPTextConfig c;
  get_opt(j, "vocab_size", c.vocab_size, file);
  get_opt(j, "hidden_size", c.hidden_size, file);
  get_opt(j, "intermediate_size", c.intermediate_size, file);
  get_opt(j, "num_attention_heads", c.num_attention_heads, file);
  get_opt(j, "num_hidden_layers", c.num_hidden_layers, file);
  get_opt(j, "max_position_embeddings", c.max_position_embeddings, file);
  get_opt(j, "hidden_act", c.hidden_act, file);
  get_opt(j, "layer_norm_eps", c.layer_norm_eps, file);
  get_opt(j, "bos_token_id", c.bos_token_id, file);
  get_opt(j, "eos_token_id", c.eos_token_id, file);
  // pad_token_id of the HF config is not what SD pads prompts with: set from the family by the caller.
  check_text_config(c, file);
  return c;
}

SchedulerConfig scheduler_from_json(const nlohmann::json& j, const std::string& file) {
  SchedulerConfig c;
  get_opt(j, "num_train_timesteps", c.num_train_timesteps, file);
  get_opt(j, "beta_start", c.beta_start, file);
  get_opt(j, "beta_end", c.beta_end, file);
  get_opt(j, "beta_schedule", c.beta_schedule, file);
  get_opt(j, "prediction_type", c.prediction_type, file);
  get_opt(j, "steps_offset", c.steps_offset, file);
  get_opt(j, "set_alpha_to_one", c.set_alpha_to_one, file);
  check_scheduler_config(c, file);
  return c;
}

// ---------------------------------------------------------------- LDM yaml

struct YamlConfigs {
  bool has_unet = false, has_vae = false, has_text = false;
  UNetConfig unet;
  VAEConfig vae;
  CLIPTextConfig text;
  SchedulerConfig scheduler;
};

template <typename T>
T yget(const YAML::Node& n, const char* key, T def, const std::string& file) {
  if (!n || !n.IsMap() || !n[key]) return def;
  try {
    return n[key].as<T>();
  } catch (const std::exception&) {
    fail("{}: yaml field '{}' = '{}' has the wrong type", file, key, YAML::Dump(n[key]));
  }
}

YamlConfigs parse_ldm_yaml_nodes(const YAML::Node& root, const std::string& file);

YamlConfigs parse_ldm_yaml(const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    fail("{}: cannot read yaml: {}", file, msg);
  }
  // yaml-cpp throws its own exceptions when a node has another kind than the one asked for (a scalar
  // indexed like a map, ...): they become one-line ls::Errors naming the file.
  try {
    return parse_ldm_yaml_nodes(root, file);
  } catch (const YAML::Exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    fail("{}: unexpected yaml structure: {}", file, msg);
  }
}

YamlConfigs parse_ldm_yaml_nodes(const YAML::Node& root, const std::string& file) {
  YamlConfigs y;
  YAML::Node mp = root["model"] ? root["model"]["params"] : YAML::Node();
  if (!mp || !mp.IsMap()) fail("{}: no model.params section (not an LDM config)", file);
  // scheduler
  y.scheduler.beta_start = yget<float>(mp, "linear_start", y.scheduler.beta_start, file);
  y.scheduler.beta_end = yget<float>(mp, "linear_end", y.scheduler.beta_end, file);
  y.scheduler.num_train_timesteps = yget<int>(mp, "timesteps", y.scheduler.num_train_timesteps, file);
  std::string param = yget<std::string>(mp, "parameterization", "eps", file);
  if (param == "v") y.scheduler.prediction_type = "v_prediction";
  else if (param != "eps") fail("{}: parameterization '{}' is not supported (eps or v)", file, param);
  // UNet
  YAML::Node up = mp["unet_config"] ? mp["unet_config"]["params"] : YAML::Node();
  if (up && up.IsMap()) {
    y.has_unet = true;
    UNetConfig& c = y.unet;
    c.in_channels = yget<int>(up, "in_channels", c.in_channels, file);
    c.out_channels = yget<int>(up, "out_channels", c.out_channels, file);
    int mc = yget<int>(up, "model_channels", 320, file);
    auto mult = yget<std::vector<int>>(up, "channel_mult", {1, 2, 4, 4}, file);
    if (mult.empty()) fail("{}: channel_mult is empty", file);
    check_range(static_cast<long long>(mult.size()), 1, kMaxLevels, file, "length of channel_mult");
    check_range(mc, 1, kMaxChannels, file, "model_channels");
    c.block_out_channels.clear();
    for (int m : mult) {
      check_range(m, 1, kMaxChannels, file, "channel_mult entry");
      check_range(static_cast<long long>(mc) * m, 1, kMaxChannels, file, "model_channels × channel_mult");
      c.block_out_channels.push_back(mc * m);
    }
    const size_t n = mult.size();
    c.layers_per_block = yget<int>(up, "num_res_blocks", 2, file);
    auto ares = yget<std::vector<int>>(up, "attention_resolutions", {4, 2, 1}, file);
    c.cross_attn.assign(n, false);
    for (size_t i = 0; i < n; ++i)
      c.cross_attn[i] = std::find(ares.begin(), ares.end(), 1 << i) != ares.end();
    int heads = yget<int>(up, "num_heads", -1, file);
    int head_ch = yget<int>(up, "num_head_channels", -1, file);
    c.num_heads.assign(n, 8);
    for (size_t i = 0; i < n; ++i) {
      if (head_ch > 0) c.num_heads[i] = c.block_out_channels[i] / head_ch;
      else if (heads > 0) c.num_heads[i] = heads;
      else fail("{}: unet_config needs num_heads or num_head_channels", file);
    }
    c.cross_attention_dim = yget<int>(up, "context_dim", c.cross_attention_dim, file);
    c.use_linear_projection = yget<bool>(up, "use_linear_in_transformer", false, file);
    c.transformer_layers_per_block = yget<int>(up, "transformer_depth", 1, file);
    c.sample_size = yget<int>(mp, "image_size", c.sample_size, file);
  }
  // VAE
  YAML::Node fs_ = mp["first_stage_config"] ? mp["first_stage_config"]["params"] : YAML::Node();
  YAML::Node dd = fs_ && fs_.IsMap() ? fs_["ddconfig"] : YAML::Node();
  if (dd && dd.IsMap()) {
    y.has_vae = true;
    VAEConfig& v = y.vae;
    int ch = yget<int>(dd, "ch", 128, file);
    auto mult = yget<std::vector<int>>(dd, "ch_mult", {1, 2, 4, 4}, file);
    if (mult.empty()) fail("{}: ch_mult is empty", file);
    check_range(static_cast<long long>(mult.size()), 1, kMaxLevels, file, "length of ch_mult");
    check_range(ch, 1, kMaxChannels, file, "ch");
    v.block_out_channels.clear();
    for (int m : mult) {
      check_range(m, 1, kMaxChannels, file, "ch_mult entry");
      check_range(static_cast<long long>(ch) * m, 1, kMaxChannels, file, "ch × ch_mult");
      v.block_out_channels.push_back(ch * m);
    }
    v.layers_per_block = yget<int>(dd, "num_res_blocks", 2, file);
    v.latent_channels = yget<int>(dd, "z_channels", 4, file);
    v.in_channels = yget<int>(dd, "in_channels", 3, file);
    v.out_channels = yget<int>(dd, "out_ch", 3, file);
    v.sample_size = yget<int>(dd, "resolution", v.sample_size, file);
    v.scaling_factor = yget<float>(mp, "scale_factor", v.scaling_factor, file);
  }
  // text encoder: only the tiny_text_config extension carries sizes; otherwise they come from the shapes.
  YAML::Node cp = mp["cond_stage_config"] ? mp["cond_stage_config"]["params"] : YAML::Node();
  YAML::Node tt = cp && cp.IsMap() ? cp["tiny_text_config"] : YAML::Node();
  if (tt && tt.IsMap()) {
    y.has_text = true;
    CLIPTextConfig& t = y.text;
    t.vocab_size = yget<int>(tt, "vocab_size", t.vocab_size, file);
    t.hidden_size = yget<int>(tt, "hidden_size", t.hidden_size, file);
    t.intermediate_size = yget<int>(tt, "intermediate_size", t.intermediate_size, file);
    t.num_attention_heads = yget<int>(tt, "num_attention_heads", t.num_attention_heads, file);
    t.num_hidden_layers = yget<int>(tt, "num_hidden_layers", t.num_hidden_layers, file);
    t.max_position_embeddings = yget<int>(tt, "max_position_embeddings", t.max_position_embeddings, file);
    t.hidden_act = yget<std::string>(tt, "hidden_act", t.hidden_act, file);
    t.layer_norm_eps = yget<float>(tt, "layer_norm_eps", t.layer_norm_eps, file);
    t.bos_token_id = yget<int>(tt, "bos_token_id", t.bos_token_id, file);
    t.eos_token_id = yget<int>(tt, "eos_token_id", t.eos_token_id, file);
  }
  check_scheduler_config(y.scheduler, file);
  if (y.has_unet) check_unet_config(y.unet, file);
  if (y.has_vae) check_vae_config(y.vae, file);
  if (y.has_text) check_text_config(y.text, file);
  return y;
}

// ---------------------------------------------------------------- inference from shapes

const Tensor& need(const TensorMap& t, const std::string& key, const std::string& file, const char* what) {
  auto it = t.find(key);
  if (it == t.end()) fail("{}: cannot infer the {} config: tensor '{}' is missing", file, what, key);
  return it->second;
}

int count_indices(const TensorMap& t, const std::string& prefix) {
  std::set<int> seen;
  for (auto it = t.lower_bound(prefix); it != t.end() && starts_with(it->first, prefix); ++it) {
    std::string rest = it->first.substr(prefix.size());
    size_t dot = rest.find('.');
    try {
      seen.insert(std::stoi(rest.substr(0, dot)));
    } catch (...) {
    }
  }
  return static_cast<int>(seen.size());
}

bool has_prefix(const TensorMap& t, const std::string& prefix) {
  auto it = t.lower_bound(prefix);
  return it != t.end() && starts_with(it->first, prefix);
}

/// UNet config from diffusers-named tensors.
UNetConfig infer_unet(const TensorMap& t, Family fam, const std::string& file) {
  UNetConfig c;
  const int n = count_indices(t, "down_blocks.");
  if (n == 0) fail("{}: cannot infer the UNet config: no down blocks", file);
  c.layers_per_block = count_indices(t, "down_blocks.0.resnets.");
  c.in_channels = static_cast<int>(need(t, "conv_in.weight", file, "UNet").dim(1));
  c.out_channels = static_cast<int>(need(t, "conv_out.weight", file, "UNet").dim(0));
  c.block_out_channels.assign(n, 0);
  c.cross_attn.assign(n, false);
  c.num_heads.assign(n, 8);
  int first_attn = -1;
  for (int i = 0; i < n; ++i) {
    std::string b = "down_blocks." + std::to_string(i);
    c.block_out_channels[i] = static_cast<int>(need(t, b + ".resnets.0.conv1.weight", file, "UNet").dim(0));
    c.cross_attn[i] = has_prefix(t, b + ".attentions.");
    if (c.cross_attn[i] && first_attn < 0) first_attn = i;
    if (fam == Family::SD2) c.num_heads[i] = std::max(1, c.block_out_channels[i] / 64);
  }
  std::string a = first_attn >= 0 ? "down_blocks." + std::to_string(first_attn) + ".attentions.0"
                                  : std::string("mid_block.attentions.0");
  c.use_linear_projection = need(t, a + ".proj_in.weight", file, "UNet").ndim() == 2;
  c.cross_attention_dim = static_cast<int>(need(t, a + ".transformer_blocks.0.attn2.to_k.weight", file, "UNet").dim(1));
  c.transformer_layers_per_block = std::max(1, count_indices(t, a + ".transformer_blocks."));
  return c;
}

VAEConfig infer_vae(const TensorMap& t, const std::string& file) {
  VAEConfig c;
  const int n = count_indices(t, "encoder.down_blocks.");
  if (n == 0) fail("{}: cannot infer the VAE config: no encoder down blocks", file);
  c.layers_per_block = count_indices(t, "encoder.down_blocks.0.resnets.");
  c.block_out_channels.assign(n, 0);
  for (int i = 0; i < n; ++i)
    c.block_out_channels[i] = static_cast<int>(
        need(t, "encoder.down_blocks." + std::to_string(i) + ".resnets.0.conv1.weight", file, "VAE").dim(0));
  c.in_channels = static_cast<int>(need(t, "encoder.conv_in.weight", file, "VAE").dim(1));
  c.out_channels = static_cast<int>(need(t, "decoder.conv_out.weight", file, "VAE").dim(0));
  c.latent_channels = static_cast<int>(need(t, "decoder.conv_in.weight", file, "VAE").dim(1));
  c.use_quant_conv = t.count("quant_conv.weight") != 0;
  c.use_post_quant_conv = t.count("post_quant_conv.weight") != 0;
  return c;
}

/// Text encoder sizes from shapes. Heads are not visible in the weights: head dim 64 when the width is a
/// multiple of 64 (ViT-L/14: 12 heads, OpenCLIP ViT-H: 16), else head dim 8 (tiny test models).
CLIPTextConfig infer_text(const TensorMap& t, Family fam, const std::string& file) {
  CLIPTextConfig c;
  const Tensor& tok = need(t, "text_model.embeddings.token_embedding.weight", file, "text encoder");
  if (tok.ndim() != 2) fail("{}: token embedding has shape {}, expected [vocab, hidden]", file, shape_str(tok.shape()));
  c.vocab_size = static_cast<int>(tok.dim(0));
  c.hidden_size = static_cast<int>(tok.dim(1));
  c.max_position_embeddings =
      static_cast<int>(need(t, "text_model.embeddings.position_embedding.weight", file, "text encoder").dim(0));
  c.num_hidden_layers = count_indices(t, "text_model.encoder.layers.");
  c.intermediate_size =
      static_cast<int>(need(t, "text_model.encoder.layers.0.mlp.fc1.weight", file, "text encoder").dim(0));
  int hd = c.hidden_size % 64 == 0 ? 64 : (c.hidden_size % 8 == 0 ? 8 : c.hidden_size);
  c.num_attention_heads = c.hidden_size / hd;
  c.hidden_act = fam == Family::SD2 ? "gelu" : "quick_gelu";
  return c;
}

// ---------------------------------------------------------------- validation

/// Check that `comp` holds exactly the expected parameters with the expected shapes; extra tensors are
/// moved to `ignored` (spelled as in the file via `origin`).
void validate(io::TensorFile& comp, const std::vector<std::pair<std::string, Shape>>& expected,
              const std::string& file, const char* what, const std::function<std::string(const std::string&)>& origin,
              std::vector<std::string>& ignored) {
  std::set<std::string> want;
  for (const auto& [name, shape] : expected) {
    want.insert(name);
    auto it = comp.tensors.find(name);
    if (it == comp.tensors.end())
      fail("{}: {} tensor '{}' is missing (expected shape {})", file, what, origin(name), shape_str(shape));
    if (it->second.shape() != shape)
      fail("{}: {} tensor '{}' has shape {}, expected {}", file, what, origin(name), shape_str(it->second.shape()),
           shape_str(shape));
    if (!dtype_is_float(it->second.dtype()))
      fail("{}: {} tensor '{}' has dtype {}, expected a float type", file, what, origin(name),
           dtype_name(it->second.dtype()));
  }
  for (auto it = comp.tensors.begin(); it != comp.tensors.end();) {
    if (!want.count(it->first)) {
      ignored.push_back(origin(it->first));
      it = comp.tensors.erase(it);
    } else {
      ++it;
    }
  }
}

void check_family_supported(Family fam, const std::string& file) {
  if (fam == Family::SD1 || fam == Family::SD2) return;
  if (fam == Family::SDXL) fail("{}: model family {} is not supported yet (only SD1.x and SD2.x)", file, family_name(fam));
  fail("{}: model family {} (no SD1.x/SD2.x UNet found) is not supported yet (only SD1.x and SD2.x)", file,
       family_name(fam));
}

void finish_text_config(CLIPTextConfig& t, Family fam) { t.pad_token_id = fam == Family::SD2 ? 0 : t.eos_token_id; }

// ---------------------------------------------------------------- diffusers folder

/// The first of `names` present in `dir` (sharded *.index.json weights are refused).
std::string pick_weights(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (fs::is_regular_file(dir / n)) return (dir / n).string();
  for (const char* n : names)
    if (fs::exists(dir / (std::string(n) + ".index.json")))
      fail("{}: sharded weights ({}.index.json) are not supported", dir.string(), n);
  fail("{}: folder has no weights file (looked for {})", dir.string(), *names.begin());
}

LoadedModel load_folder(const std::string& path) {
  fs::path root(path);
  LoadedModel m;
  m.source = path;
  for (const char* sub : {"unet", "vae", "text_encoder"})
    if (!fs::is_directory(root / sub))
      fail("{}: not a diffusers model folder: no {}/ subfolder", path, sub);
  const std::string uf = (root / "unet" / "config.json").string(), vf = (root / "vae" / "config.json").string(),
                    tf = (root / "text_encoder" / "config.json").string();
  m.unet_config = unet_from_json(read_json(uf), uf);
  m.vae_config = vae_from_json(read_json(vf), vf);
  m.text_config = text_from_json(read_json(tf), tf);
  fs::path sched = root / "scheduler" / "scheduler_config.json";
  if (fs::is_regular_file(sched)) m.scheduler_config = scheduler_from_json(read_json(sched.string()), sched.string());

  std::string uw = pick_weights(root / "unet",
                                {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                                 "diffusion_pytorch_model.bin"});
  const bool pixel_vae = m.vae_config.patch_size > 0;  // no weights to read
  std::string vw = pixel_vae ? vf : pick_weights(root / "vae",
                                                 {"diffusion_pytorch_model.safetensors",
                                                  "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.bin"});
  std::string tw = pick_weights(root / "text_encoder", {"model.safetensors", "model.fp16.safetensors", "pytorch_model.bin"});
  m.unet = io::read_checkpoint(uw);
  io::TensorFile vraw = pixel_vae ? io::TensorFile{} : io::read_checkpoint(vw);
  m.vae.path = vw;
  m.vae.metadata = vraw.metadata;
  for (auto& [k, t] : vraw.tensors) {
    std::string n = vae_modernize_name(k);
    Tensor v = t;
    if (vae_is_attention_projection(n) && v.ndim() == 4 && v.dim(2) == 1 && v.dim(3) == 1) v = v.reshape({v.dim(0), v.dim(1)});
    m.vae.tensors[n] = v;
  }
  io::TensorFile traw = io::read_checkpoint(tw);
  m.text_encoder.path = tw;
  m.text_encoder.metadata = traw.metadata;
  for (auto& [k, t] : traw.tensors) {
    std::string n = text_ldm_to_diffusers(k);
    if (n.empty() || ends_with(n, "position_ids")) m.ignored_keys.push_back(k);
    else m.text_encoder.tensors[n] = t;
  }
  m.family = detect_family(m.unet.tensors);
  check_family_supported(m.family, uw);
  finish_text_config(m.text_config, m.family);
  auto id = [](const std::string& s) { return s; };
  validate(m.unet, unet_param_shapes(m.unet_config), uw, "UNet", id, m.ignored_keys);
  validate(m.vae, vae_param_shapes(m.vae_config), vw, "VAE", id, m.ignored_keys);
  validate(m.text_encoder, text_param_shapes(m.text_config), tw, "text encoder", id, m.ignored_keys);
  fs::path tok = root / "tokenizer";
  if (fs::is_regular_file(tok / "vocab.json") && fs::is_regular_file(tok / "merges.txt")) m.tokenizer_dir = tok.string();
  return m;
}

// ---------------------------------------------------------------- single file

std::string find_sidecar_yaml(const std::string& path) {
  fs::path p(path);
  for (fs::path c : {fs::path(p).replace_extension(".yaml"), fs::path(path + ".yaml"), fs::path(p).replace_extension(".yml")})
    if (c != p && fs::is_regular_file(c)) return c.string();
  return "";
}

/// Layers per block, level count and attention levels of an LDM UNet, from its key names.
UNetConfig ldm_unet_layout(const TensorMap& t, const std::string& file) {
  const std::string pre = std::string(kUNetPrefix) + "input_blocks.";
  std::set<int> ops, attn;
  for (auto it = t.lower_bound(pre); it != t.end() && starts_with(it->first, pre); ++it) {
    std::string rest = it->first.substr(pre.size());
    size_t dot = rest.find('.');
    int b = -1;
    try {
      b = std::stoi(rest.substr(0, dot));
    } catch (...) {
      continue;
    }
    if (rest.compare(dot, 5, ".0.op") == 0) ops.insert(b);
    if (rest.compare(dot, 3, ".1.") == 0) attn.insert(b);
  }
  if (ops.empty()) fail("{}: cannot infer the UNet layout: no downsampler (input_blocks.N.0.op) keys", file);
  UNetConfig c;
  c.layers_per_block = *ops.begin() - 1;
  const int n = static_cast<int>(ops.size()) + 1, L = c.layers_per_block;
  if (L < 1) fail("{}: cannot infer the UNet layout: first downsampler at input_blocks.{}", file, *ops.begin());
  c.block_out_channels.assign(n, 1);
  c.num_heads.assign(n, 8);
  c.cross_attn.assign(n, false);
  for (int i = 0; i < n; ++i) c.cross_attn[i] = attn.count((L + 1) * i + 1) != 0;
  return c;
}

LoadedModel load_single(const std::string& path, const std::string& config_yaml) {
  LoadedModel m;
  m.source = path;
  io::TensorFile f = io::read_checkpoint(path);
  if (f.tensors.empty()) fail("{}: holds no tensors", path);
  m.family = detect_family(f.tensors);
  if (m.family == Family::Unknown)
    for (const auto& [k, t] : f.tensors)
      if (k.find("lora_down") != std::string::npos || k.find("lora_A") != std::string::npos ||
          k.find("hada_w1") != std::string::npos || k.find("lokr_w") != std::string::npos)
        fail("{}: this is a LoRA-family adapter (key '{}'), not a model; load a base model with -m and this file with "
             "--lora", path, k);
  check_family_supported(m.family, path);

  std::string yaml = config_yaml.empty() ? find_sidecar_yaml(path) : config_yaml;
  YamlConfigs y;
  if (!yaml.empty()) y = parse_ldm_yaml(yaml);

  // Split by component, keeping original keys for messages.
  TensorMap unet_ldm, vae_ldm, text_ldm, openclip;
  const std::string up = kUNetPrefix, vp = kVAEPrefix, tp = kTextPrefix, op = kOpenClipPrefix;
  for (auto& [k, t] : f.tensors) {
    if (starts_with(k, up)) unet_ldm[k.substr(up.size())] = t;
    else if (starts_with(k, vp)) vae_ldm[k.substr(vp.size())] = t;
    else if (starts_with(k, tp)) text_ldm[k.substr(tp.size())] = t;
    else if (starts_with(k, op)) openclip[k.substr(op.size())] = t;
    else m.ignored_keys.push_back(k);
  }
  if (unet_ldm.empty()) fail("{}: no UNet tensors ('{}*')", path, up);
  if (vae_ldm.empty()) fail("{}: no VAE tensors ('{}*')", path, vp);
  if (text_ldm.empty() && openclip.empty()) fail("{}: no text encoder tensors ('{}*' or '{}*')", path, tp, op);

  // UNet: map with the layout (from yaml or key names), then infer the rest if no yaml.
  UNetConfig layout = y.has_unet ? y.unet : ldm_unet_layout(f.tensors, path);
  m.unet.path = path;
  for (auto& [k, t] : unet_ldm) {
    std::string n = unet_ldm_to_diffusers(k, layout);
    if (n.empty()) m.ignored_keys.push_back(up + k);
    else m.unet.tensors[n] = t;
  }
  m.unet_config = y.has_unet ? y.unet : infer_unet(m.unet.tensors, m.family, path);

  VAEConfig vlayout = y.has_vae ? y.vae : VAEConfig{};
  if (!y.has_vae) {  // level count from the encoder down.N keys
    std::set<int> lv;
    for (auto& [k, t] : vae_ldm)
      if (starts_with(k, "encoder.down.")) {
        try {
          lv.insert(std::stoi(k.substr(13)));
        } catch (...) {
        }
      }
    if (lv.empty()) fail("{}: cannot infer the VAE layout: no '{}encoder.down.N' keys", path, vp);
    vlayout.block_out_channels.assign(lv.size(), 1);
    vlayout.layers_per_block = 1000;  // accept any block index while mapping; the real count is inferred below
  }
  m.vae.path = path;
  for (auto& [k, t] : vae_ldm) {
    std::string n = vae_ldm_to_diffusers(k, vlayout);
    if (n.empty()) {
      m.ignored_keys.push_back(vp + k);
      continue;
    }
    Tensor v = t;
    if (vae_is_attention_projection(n) && v.ndim() == 4 && v.dim(2) == 1 && v.dim(3) == 1) v = v.reshape({v.dim(0), v.dim(1)});
    m.vae.tensors[n] = v;
  }
  m.vae_config = y.has_vae ? y.vae : infer_vae(m.vae.tensors, path);

  m.text_encoder.path = path;
  for (auto& [k, t] : text_ldm) {
    std::string n = text_ldm_to_diffusers(k);
    if (n.empty() || ends_with(n, "position_ids")) m.ignored_keys.push_back(tp + k);
    else m.text_encoder.tensors[n] = t;
  }
  if (!openclip.empty()) {
    auto hf = openclip_to_hf(openclip, path, &m.ignored_keys);
    m.text_encoder.tensors.insert(hf.begin(), hf.end());
  }
  m.text_config = y.has_text ? y.text : infer_text(m.text_encoder.tensors, m.family, path);
  finish_text_config(m.text_config, m.family);
  m.scheduler_config = y.scheduler;

  const UNetConfig uc = m.unet_config;
  const VAEConfig vc = m.vae_config;
  validate(m.unet, unet_param_shapes(uc), path, "UNet",
           [&](const std::string& n) { auto l = unet_diffusers_to_ldm(n, uc); return l.empty() ? n : up + l; },
           m.ignored_keys);
  validate(m.vae, vae_param_shapes(vc), path, "VAE",
           [&](const std::string& n) { auto l = vae_diffusers_to_ldm(n, vc); return l.empty() ? n : vp + l; },
           m.ignored_keys);
  const bool oc = !openclip.empty();
  validate(m.text_encoder, text_param_shapes(m.text_config), path, "text encoder",
           [&](const std::string& n) { return oc ? n : tp + n; }, m.ignored_keys);
  return m;
}

}  // namespace

Family detect_family(const std::map<std::string, Tensor>& tensors) {
  bool xl = false, openclip = false;
  int proj_ndim = 0;
  int64_t ctx = 0;
  for (const auto& [k, v] : tensors) {
    if (k.find("label_emb.") != std::string::npos || starts_with(k, "conditioner.embedders.") ||
        starts_with(k, "add_embedding."))
      xl = true;
    if (starts_with(k, kOpenClipPrefix)) openclip = true;
    if (!is_unet_attention_key(k) || starts_with(k, kVAEPrefix) || starts_with(k, "encoder.") || starts_with(k, "decoder."))
      continue;
    if (ends_with(k, ".proj_in.weight") && proj_ndim == 0) proj_ndim = v.ndim();
    if (ends_with(k, ".attn2.to_k.weight") && v.ndim() == 2 && ctx == 0) ctx = v.dim(1);
  }
  if (xl || ctx == 2048) return Family::SDXL;
  if (proj_ndim == 0 || ctx == 0) return Family::Unknown;
  if (proj_ndim == 2 || ctx == 1024 || openclip) return Family::SD2;
  if (proj_ndim == 4) return Family::SD1;
  return Family::Unknown;
}

ModelConfigs configs_from_yaml(const std::string& path) {
  YamlConfigs y = parse_ldm_yaml(path);
  if (!y.has_unet) fail("{}: no model.params.unet_config.params section", path);
  if (!y.has_vae) fail("{}: no model.params.first_stage_config.params.ddconfig section", path);
  const bool sd2 = y.unet.cross_attention_dim == 1024 || y.unet.use_linear_projection;
  ModelConfigs c = preset_configs(sd2 ? InitArch::SD2 : InitArch::SD1);
  c.unet = y.unet;
  c.vae = y.vae;
  c.scheduler = y.scheduler;
  if (y.has_text) c.text = y.text;
  finish_text_config(c.text, sd2 ? Family::SD2 : Family::SD1);
  return c;
}

LoadedModel load_model(const std::string& path, const std::string& config_yaml) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail("{}: no such file or folder", path);
  if (fs::is_directory(st)) {
    if (!config_yaml.empty()) fail("{}: --config {} applies to single-file checkpoints, not diffusers folders", path, config_yaml);
    return load_folder(path);
  }
  if (!fs::is_regular_file(st)) fail("{}: not a regular file", path);
  return load_single(path, config_yaml);
}

}  // namespace ls::sd
