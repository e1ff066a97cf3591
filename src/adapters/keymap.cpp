#include "adapters/keymap.h"

#include <algorithm>

#include "models/sd1/keymap.h"

namespace ls::adapters {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

std::string underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

const char* component_name(Component c) {
  switch (c) {
    case Component::UNet: return "unet";
    case Component::TextEncoder: return "text_encoder";
    case Component::TextEncoder2: return "text_encoder_2";
  }
  return "?";
}

std::vector<std::pair<Component, ParamTable*>> ModelParams::tables() const {
  std::vector<std::pair<Component, ParamTable*>> out;
  if (unet) out.emplace_back(Component::UNet, unet);
  if (text_encoder) out.emplace_back(Component::TextEncoder, text_encoder);
  if (text_encoder_2) out.emplace_back(Component::TextEncoder2, text_encoder_2);
  return out;
}

std::string ldm_unet_name(const std::string& diffusers_name, const sd::UNetConfig& cfg) {
  return sd::unet_diffusers_to_ldm(diffusers_name, cfg);
}

void KeyMap::add(const std::string& spelling, const Target& t) {
  map_.emplace(spelling, t);  // first one wins; distinct parameters never share a spelling in SD1/SD2/SDXL
}

KeyMap::KeyMap(const ModelParams& params) : params_(params) {
  for (auto [comp, table] : params.tables()) {
    for (const auto& [name, p] : table->all()) {
      if (!ends_with(name, ".weight")) continue;
      std::string x = name.substr(0, name.size() - 7);
      Target t{comp, table, name, table->has(x + ".bias") ? x + ".bias" : std::string()};
      if (comp == Component::UNet) {
        add("lora_unet_" + underscored(x), t);
        add("lycoris_" + underscored(x), t);
        add("unet." + x, t);
        add(x, t);
        std::string ldm = params.unet_config ? ldm_unet_name(name, *params.unet_config) : std::string();
        if (!ldm.empty() && ends_with(ldm, ".weight")) {
          std::string l = ldm.substr(0, ldm.size() - 7);
          add("lora_unet_" + underscored(l), t);
          add("lycoris_" + underscored(l), t);
          add("diffusion_model." + l, t);
        }
      } else {
        // transformers CLIP names carry "text_model."; accept tables stored with or without it.
        std::string full = starts_with(x, "text_model.") ? x : "text_model." + x;
        std::string bare = full.substr(11);
        bool second = comp == Component::TextEncoder2;
        const char* hf = second ? "text_encoder_2." : "text_encoder.";
        for (const char* k : second ? std::vector<const char*>{"lora_te2_"} : std::vector<const char*>{"lora_te_", "lora_te1_"})
          add(k + underscored(full), t);
        add(hf + full, t);
        add(hf + bare, t);
        add(x, t);
      }
    }
  }
}

const Target* KeyMap::exact(const std::string& k) const {
  auto it = map_.find(k);
  return it == map_.end() ? nullptr : &it->second;
}

const Target* KeyMap::find(const std::string& module_key) const {
  if (const Target* t = exact(module_key)) return t;
  std::string k = module_key;
  while (!k.empty() && (k.back() == '_' || k.back() == '.')) k.pop_back();  // stray trailing separator
  // diffusers attention processors: "attn1.processor.to_q" → "attn1.to_q", "processor.to_out" → "to_out.0"
  if (k.find("processor.") != std::string::npos) {
    if (ends_with(k, "processor.to_out")) k += ".0";
    replace_all(k, "processor.", "");
  }
  if (const Target* t = exact(k)) return t;
  if (starts_with(k, "lycoris_")) {  // "lycoris_" in front of any spelling
    std::string rest = k.substr(8);
    for (const std::string& cand : {rest, "lora_unet_" + rest, "lora_" + rest})
      if (const Target* t = exact(cand)) return t;
  }
  return nullptr;
}

}  // namespace ls::adapters
