#include "models/sd1/keymap.h"

#include <charconv>
#include <vector>

namespace ls::sd {

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find('.', start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

/// Join parts[from..] with '.', prefixed by '.' when non-empty (so it can be appended to a prefix).
std::string tail(const std::vector<std::string>& parts, size_t from) {
  std::string r;
  for (size_t i = from; i < parts.size(); ++i) r += "." + parts[i];
  return r;
}

/// Non-negative decimal index, or -1.
int index_of(const std::string& s) {
  if (s.empty() || s.size() > 6) return -1;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return -1;
  return v;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// ---- UNet resnet leaf names ----
const std::pair<const char*, const char*> kUNetResnet[] = {
    {"norm1", "in_layers.0"},   {"conv1", "in_layers.2"},   {"time_emb_proj", "emb_layers.1"},
    {"norm2", "out_layers.0"},  {"conv2", "out_layers.3"},  {"conv_shortcut", "skip_connection"}};

/// diffusers resnet-relative tail ("conv1.weight") → LDM ("in_layers.2.weight"); "" if unknown.
std::string unet_resnet_to_ldm(const std::vector<std::string>& p, size_t from) {
  if (from >= p.size()) return "";
  for (auto& [d, l] : kUNetResnet)
    if (p[from] == d) return "." + std::string(l) + tail(p, from + 1);
  return "";
}

std::string unet_resnet_to_diffusers(const std::vector<std::string>& p, size_t from) {
  if (from >= p.size()) return "";
  std::string two = from + 1 < p.size() ? p[from] + "." + p[from + 1] : "";
  for (auto& [d, l] : kUNetResnet) {
    std::string ls(l);
    if (ls == "skip_connection" && p[from] == ls) return "." + std::string(d) + tail(p, from + 1);
    if (two == ls) return "." + std::string(d) + tail(p, from + 2);
  }
  return "";
}

}  // namespace

std::string unet_diffusers_to_ldm(const std::string& name, const UNetConfig& cfg) {
  const int L = cfg.layers_per_block, n = static_cast<int>(cfg.block_out_channels.size());
  auto p = split(name);
  const std::string& h = p[0];
  if (h == "time_embedding" && p.size() >= 2) {
    if (p[1] == "linear_1") return "time_embed.0" + tail(p, 2);
    if (p[1] == "linear_2") return "time_embed.2" + tail(p, 2);
    return "";
  }
  if (h == "conv_in") return "input_blocks.0.0" + tail(p, 1);
  if (h == "conv_norm_out") return "out.0" + tail(p, 1);
  if (h == "conv_out") return "out.2" + tail(p, 1);
  if (h == "mid_block" && p.size() >= 3) {
    int k = index_of(p[2]);
    if (p[1] == "resnets" && (k == 0 || k == 1)) {
      if (p.size() == 3) return "middle_block." + std::to_string(2 * k);
      std::string r = unet_resnet_to_ldm(p, 3);
      return r.empty() ? "" : "middle_block." + std::to_string(2 * k) + r;
    }
    if (p[1] == "attentions" && k == 0) return "middle_block.1" + tail(p, 3);
    return "";
  }
  if ((h == "down_blocks" || h == "up_blocks") && p.size() >= 4) {
    int i = index_of(p[1]), j = index_of(p[3]);
    if (i < 0 || i >= n || j < 0) return "";
    const bool down = h == "down_blocks";
    const std::string blocks = down ? "input_blocks." : "output_blocks.";
    const int nres = down ? L : L + 1;
    if (p[2] == "resnets" || p[2] == "attentions") {
      if (j >= nres) return "";
      int b = down ? (L + 1) * i + j + 1 : (L + 1) * i + j;
      if (p[2] == "attentions") return blocks + std::to_string(b) + ".1" + tail(p, 4);
      if (p.size() == 4) return blocks + std::to_string(b) + ".0";
      std::string r = unet_resnet_to_ldm(p, 4);
      return r.empty() ? "" : blocks + std::to_string(b) + ".0" + r;
    }
    if (down && p[2] == "downsamplers" && j == 0 && i < n - 1) {
      std::string base = "input_blocks." + std::to_string((L + 1) * (i + 1)) + ".0";
      if (p.size() == 4) return base;
      if (p[4] != "conv") return "";
      return base + ".op" + tail(p, 5);
    }
    if (!down && p[2] == "upsamplers" && j == 0 && i < n - 1) {
      bool attn = cfg.cross_attn.size() == static_cast<size_t>(n) && cfg.cross_attn[n - 1 - i];
      return "output_blocks." + std::to_string((L + 1) * i + L) + (attn ? ".2" : ".1") + tail(p, 4);
    }
  }
  return "";
}

std::string unet_ldm_to_diffusers(const std::string& name, const UNetConfig& cfg) {
  const int L = cfg.layers_per_block, n = static_cast<int>(cfg.block_out_channels.size());
  auto p = split(name);
  const std::string& h = p[0];
  if (h == "time_embed" && p.size() >= 2) {
    if (p[1] == "0") return "time_embedding.linear_1" + tail(p, 2);
    if (p[1] == "2") return "time_embedding.linear_2" + tail(p, 2);
    return "";
  }
  if (h == "out" && p.size() >= 2) {
    if (p[1] == "0") return "conv_norm_out" + tail(p, 2);
    if (p[1] == "2") return "conv_out" + tail(p, 2);
    return "";
  }
  if (h == "middle_block" && p.size() >= 2) {
    int m = index_of(p[1]);
    if (m == 1) return "mid_block.attentions.0" + tail(p, 2);
    if (m == 0 || m == 2) {
      std::string base = "mid_block.resnets." + std::to_string(m / 2);
      if (p.size() == 2) return base;
      std::string r = unet_resnet_to_diffusers(p, 2);
      return r.empty() ? "" : base + r;
    }
    return "";
  }
  if ((h == "input_blocks" || h == "output_blocks") && p.size() >= 3) {
    int b = index_of(p[1]), s = index_of(p[2]);
    if (b < 0 || s < 0) return "";
    if (h == "input_blocks") {
      if (b == 0) return s == 0 ? "conv_in" + tail(p, 3) : "";
      int i = (b - 1) / (L + 1), r = (b - 1) % (L + 1);
      if (i >= n) return "";
      if (r == L) {  // downsampler
        if (s != 0 || i >= n - 1) return "";
        std::string base = "down_blocks." + std::to_string(i) + ".downsamplers.0";
        if (p.size() == 3) return base;
        if (p[3] != "op") return "";
        return base + ".conv" + tail(p, 4);
      }
      std::string base = "down_blocks." + std::to_string(i);
      if (s == 1) return base + ".attentions." + std::to_string(r) + tail(p, 3);
      if (s != 0) return "";
      base += ".resnets." + std::to_string(r);
      if (p.size() == 3) return base;
      std::string rr = unet_resnet_to_diffusers(p, 3);
      return rr.empty() ? "" : base + rr;
    }
    int i = b / (L + 1), j = b % (L + 1);
    if (i >= n) return "";
    bool attn = cfg.cross_attn.size() == static_cast<size_t>(n) && cfg.cross_attn[n - 1 - i];
    std::string base = "up_blocks." + std::to_string(i);
    if (s == 0) {
      base += ".resnets." + std::to_string(j);
      if (p.size() == 3) return base;
      std::string rr = unet_resnet_to_diffusers(p, 3);
      return rr.empty() ? "" : base + rr;
    }
    bool is_up = j == L && i < n - 1 && ((attn && s == 2) || (!attn && s == 1));
    if (is_up) return base + ".upsamplers.0" + tail(p, 3);
    if (s == 1 && attn) return base + ".attentions." + std::to_string(j) + tail(p, 3);
    return "";
  }
  return "";
}

// ---- VAE ----

namespace {
const std::pair<const char*, const char*> kVAEAttn[] = {
    {"group_norm", "norm"}, {"to_q", "q"}, {"to_k", "k"}, {"to_v", "v"}, {"to_out.0", "proj_out"}};

std::string vae_resnet_to_ldm(const std::vector<std::string>& p, size_t from) {
  if (from >= p.size()) return "";
  if (p[from] == "conv_shortcut") return ".nin_shortcut" + tail(p, from + 1);
  if (p[from] == "norm1" || p[from] == "conv1" || p[from] == "norm2" || p[from] == "conv2") return tail(p, from);
  return "";
}
std::string vae_resnet_to_diffusers(const std::vector<std::string>& p, size_t from) {
  if (from >= p.size()) return "";
  if (p[from] == "nin_shortcut") return ".conv_shortcut" + tail(p, from + 1);
  if (p[from] == "norm1" || p[from] == "conv1" || p[from] == "norm2" || p[from] == "conv2") return tail(p, from);
  return "";
}
}  // namespace

std::string vae_modernize_name(const std::string& name) {
  static const std::pair<const char*, const char*> kOld[] = {
      {".attentions.0.query.", ".attentions.0.to_q."}, {".attentions.0.key.", ".attentions.0.to_k."},
      {".attentions.0.value.", ".attentions.0.to_v."}, {".attentions.0.proj_attn.", ".attentions.0.to_out.0."}};
  for (auto& [o, nw] : kOld) {
    size_t pos = name.find(o);
    if (pos != std::string::npos) return name.substr(0, pos) + nw + name.substr(pos + std::string(o).size());
  }
  return name;
}

bool vae_is_attention_projection(const std::string& n) {
  for (const char* side : {"encoder.", "decoder."})
    for (const char* w : {"to_q", "to_k", "to_v", "to_out.0"})
      if (n == std::string(side) + "mid_block.attentions.0." + w + ".weight") return true;
  return false;
}

std::string vae_diffusers_to_ldm(const std::string& name, const VAEConfig& cfg) {
  const int n = static_cast<int>(cfg.block_out_channels.size());
  auto p = split(name);
  if (p[0] == "quant_conv" || p[0] == "post_quant_conv") return name;
  if (p[0] != "encoder" && p[0] != "decoder") return "";
  const bool enc = p[0] == "encoder";
  if (p.size() < 2) return "";
  if (p[1] == "conv_in" || p[1] == "conv_out") return name;
  if (p[1] == "conv_norm_out") return p[0] + ".norm_out" + tail(p, 2);
  if (p[1] == "mid_block" && p.size() >= 4) {
    int k = index_of(p[3]);
    if (p[2] == "resnets" && (k == 0 || k == 1)) {
      std::string base = p[0] + ".mid.block_" + std::to_string(k + 1);
      if (p.size() == 4) return base;
      std::string r = vae_resnet_to_ldm(p, 4);
      return r.empty() ? "" : base + r;
    }
    if (p[2] == "attentions" && k == 0) {
      if (p.size() == 4) return p[0] + ".mid.attn_1";
      std::string rest = tail(p, 4).substr(1);
      for (auto& [d, l] : kVAEAttn) {
        std::string ds(d);
        if (rest == ds || starts_with(rest, ds + "."))
          return p[0] + ".mid.attn_1." + l + rest.substr(ds.size());
      }
    }
    return "";
  }
  const std::string blk = enc ? "down_blocks" : "up_blocks";
  if (p[1] == blk && p.size() >= 5) {
    int i = index_of(p[2]), j = index_of(p[4]);
    if (i < 0 || i >= n || j < 0) return "";
    int li = enc ? i : n - 1 - i;
    std::string base = p[0] + (enc ? ".down." : ".up.") + std::to_string(li);
    if (p[3] == "resnets") {
      if (j >= (enc ? cfg.layers_per_block : cfg.layers_per_block + 1)) return "";
      base += ".block." + std::to_string(j);
      if (p.size() == 5) return base;
      std::string r = vae_resnet_to_ldm(p, 5);
      return r.empty() ? "" : base + r;
    }
    if (p[3] == (enc ? "downsamplers" : "upsamplers") && j == 0 && i < n - 1)
      return base + (enc ? ".downsample" : ".upsample") + tail(p, 5);
  }
  return "";
}

std::string vae_ldm_to_diffusers(const std::string& name, const VAEConfig& cfg) {
  const int n = static_cast<int>(cfg.block_out_channels.size());
  auto p = split(name);
  if (p[0] == "quant_conv" || p[0] == "post_quant_conv") return name;
  if (p[0] != "encoder" && p[0] != "decoder") return "";
  const bool enc = p[0] == "encoder";
  if (p.size() < 2) return "";
  if (p[1] == "conv_in" || p[1] == "conv_out") return name;
  if (p[1] == "norm_out") return p[0] + ".conv_norm_out" + tail(p, 2);
  if (p[1] == "mid" && p.size() >= 3) {
    if (p[2] == "block_1" || p[2] == "block_2") {
      std::string base = p[0] + ".mid_block.resnets." + (p[2] == "block_1" ? "0" : "1");
      if (p.size() == 3) return base;
      std::string r = vae_resnet_to_diffusers(p, 3);
      return r.empty() ? "" : base + r;
    }
    if (p[2] == "attn_1") {
      if (p.size() == 3) return p[0] + ".mid_block.attentions.0";
      for (auto& [d, l] : kVAEAttn)
        if (p[3] == l) return p[0] + ".mid_block.attentions.0." + d + tail(p, 4);
    }
    return "";
  }
  if (p[1] == (enc ? "down" : "up") && p.size() >= 4) {
    int li = index_of(p[2]);
    if (li < 0 || li >= n) return "";
    int i = enc ? li : n - 1 - li;
    std::string base = p[0] + (enc ? ".down_blocks." : ".up_blocks.") + std::to_string(i);
    if (p[3] == "block" && p.size() >= 5) {
      int j = index_of(p[4]);
      if (j < 0 || j >= (enc ? cfg.layers_per_block : cfg.layers_per_block + 1)) return "";
      base += ".resnets." + std::to_string(j);
      if (p.size() == 5) return base;
      std::string r = vae_resnet_to_diffusers(p, 5);
      return r.empty() ? "" : base + r;
    }
    if (p[3] == (enc ? "downsample" : "upsample") && i < n - 1)
      return base + (enc ? ".downsamplers.0" : ".upsamplers.0") + tail(p, 4);
  }
  return "";
}

// ---- text encoder ----

std::string text_ldm_to_diffusers(const std::string& name) {
  if (starts_with(name, "text_model.")) return name;
  if (starts_with(name, "embeddings.") || starts_with(name, "encoder.") || starts_with(name, "final_layer_norm."))
    return "text_model." + name;
  return "";
}

std::string text_diffusers_to_ldm(const std::string& name) { return starts_with(name, "text_model.") ? name : ""; }

std::map<std::string, Tensor> openclip_to_hf(const std::map<std::string, Tensor>& oc, const std::string& file,
                                             std::vector<std::string>* ignored) {
  std::map<std::string, Tensor> out;
  const std::string tm = "text_model.";
  for (const auto& [k, t] : oc) {
    auto p = split(k);
    if (k == "positional_embedding") {
      out[tm + "embeddings.position_embedding.weight"] = t;
    } else if (k == "token_embedding.weight") {
      out[tm + "embeddings.token_embedding.weight"] = t;
    } else if (p[0] == "ln_final" && p.size() == 2) {
      out[tm + "final_layer_norm." + p[1]] = t;
    } else if (p.size() >= 5 && p[0] == "transformer" && p[1] == "resblocks" && index_of(p[2]) >= 0) {
      std::string L = tm + "encoder.layers." + p[2] + ".";
      std::string rest = tail(p, 3).substr(1);
      if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
        bool w = rest == "attn.in_proj_weight";
        int64_t h3 = t.ndim() >= 1 ? t.dim(0) : 0;
        bool ok = h3 % 3 == 0 && h3 > 0 && (w ? (t.ndim() == 2 && t.dim(1) * 3 == h3) : t.ndim() == 1);
        if (!ok)
          fail("{}: tensor '{}{}': shape {} is not [3H, H] / [3H]", file, kOpenClipPrefix, k, shape_str(t.shape()));
        int64_t H = h3 / 3;
        const char* names[3] = {"q_proj", "k_proj", "v_proj"};
        for (int q = 0; q < 3; ++q)
          out[L + "self_attn." + names[q] + (w ? ".weight" : ".bias")] = t.narrow0(q * H, H);
      } else if (p[3] == "attn" && p[4] == "out_proj" && p.size() == 6) {
        out[L + "self_attn.out_proj." + p[5]] = t;
      } else if ((p[3] == "ln_1" || p[3] == "ln_2") && p.size() == 5) {
        out[L + (p[3] == "ln_1" ? "layer_norm1." : "layer_norm2.") + p[4]] = t;
      } else if (p[3] == "mlp" && p.size() == 6 && (p[4] == "c_fc" || p[4] == "c_proj")) {
        out[L + (p[4] == "c_fc" ? "mlp.fc1." : "mlp.fc2.") + p[5]] = t;
      } else if (ignored) {
        ignored->push_back(kOpenClipPrefix + k);
      }
    } else if (ignored) {
      ignored->push_back(kOpenClipPrefix + k);
    }
  }
  return out;
}

}  // namespace ls::sd
