#include "toolbox/lora_names.h"

#include "toolbox/inspect.h"

#include <algorithm>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "models/sd1/init.h"

namespace ls::toolbox {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

std::string underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

std::unique_ptr<NameModel> build_name_model(sd::Family family) {
  auto nm = std::make_unique<NameModel>();
  nm->family = family;
  sd::ModelConfigs cfg = sd::preset_configs(family == sd::Family::SD2 ? sd::InitArch::SD2 : sd::InitArch::SD1);
  nm->unet_config = cfg.unet;
  Tensor placeholder = Tensor::zeros({1});
  for (const auto& [name, shape] : sd::unet_param_shapes(cfg.unet)) {
    nm->unet.add(name, placeholder);
    nm->shapes["unet:" + name] = shape;
  }
  for (const auto& [name, shape] : sd::text_param_shapes(cfg.text)) {
    nm->text.add(name, placeholder);
    nm->shapes["text_encoder:" + name] = shape;
  }
  adapters::ModelParams mp;
  mp.unet = &nm->unet;
  mp.text_encoder = &nm->text;
  mp.unet_config = &nm->unet_config;
  nm->keymap = std::make_unique<adapters::KeyMap>(mp);
  return nm;
}

}  // namespace

const Shape& NameModel::shape_of(const adapters::Target& t) const {
  return shapes.at(std::string(adapters::component_name(t.component)) + ":" + t.weight);
}

const NameModel& name_model(sd::Family family) {
  static std::mutex mu;
  static std::map<sd::Family, std::unique_ptr<NameModel>> cache;
  if (family != sd::Family::SD1 && family != sd::Family::SD2)
    fail("no built-in {} name layout: lorastack's LoRA tools handle SD1.x and SD2.x adapters", sd::family_name(family));
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[family];
  if (!slot) slot = build_name_model(family);
  return *slot;
}

sd::Family layout_family(const std::string& family_guess, const std::string& file) {
  if (family_guess == "SD1.x" || family_guess == "unknown") return sd::Family::SD1;
  if (family_guess == "SD2.x") return sd::Family::SD2;
  fail("{}: a {} adapter; the LoRA tools handle SD1.x and SD2.x adapters only", file, family_guess);
}

std::string target_module(const adapters::Target& t) { return t.weight.substr(0, t.weight.size() - 7); }

std::string kohya_name(adapters::Component c, const std::string& module) {
  switch (c) {
    case adapters::Component::UNet: return "lora_unet_" + underscored(module);
    case adapters::Component::TextEncoder:
      return "lora_te_" + underscored(starts_with(module, "text_model.") ? module : "text_model." + module);
    case adapters::Component::TextEncoder2:
      return "lora_te2_" + underscored(starts_with(module, "text_model.") ? module : "text_model." + module);
  }
  return module;
}

std::string peft_name(adapters::Component c, const std::string& module) {
  std::string bare = starts_with(module, "text_model.") ? module.substr(11) : module;
  switch (c) {
    case adapters::Component::UNet: return "unet." + module;
    case adapters::Component::TextEncoder: return "text_encoder." + bare;
    case adapters::Component::TextEncoder2: return "text_encoder_2." + bare;
  }
  return module;
}

std::vector<LowRankModule> lowrank_modules(const adapters::AdapterFile& af, const NameModel& names) {
  std::vector<LowRankModule> out;
  std::set<std::string> seen;
  for (const adapters::ModuleTensors& m : af.modules) {
    if (m.algo != adapters::Algo::LoRA && m.algo != adapters::Algo::LoCon)
      fail("{}: module '{}' is {}; only LoRA / LoCon modules can be converted, resized or merged into one adapter "
           "(bake it into a checkpoint with `lora merge --model`, then `lora extract` a LoRA from that)",
           af.path, m.key, adapters::algo_name(m.algo));
    if (m.dora) fail("{}: module '{}' has DoRA magnitudes; DoRA adapters are not supported by this tool", af.path, m.key);
    if (m.has(adapters::Part::UpBias))
      fail("{}: module '{}' has a lora_B bias, which kohya files cannot hold", af.path, m.key);
    const adapters::Target* t = names.keymap->find(m.key);
    if (!t)
      fail("{}: module '{}' names no {} parameter (expected e.g. lora_unet_down_blocks_0_attentions_0_proj_in)", af.path,
           m.key, sd::family_name(names.family));
    LowRankModule lr;
    lr.component = t->component;
    lr.module = target_module(*t);
    if (!seen.insert(adapters::component_name(lr.component) + std::string(":") + lr.module).second)
      fail("{}: two modules target '{}' (second: '{}')", af.path, lr.module, m.key);
    lr.down = m.get(adapters::Part::Down);
    lr.up = m.get(adapters::Part::Up);
    LS_CHECK(lr.down.ndim() >= 2 && lr.up.ndim() >= 2 && lr.up.numel() == lr.up.dim(0) * lr.down.dim(0),
             "{}: module '{}': lora_up {} does not fit lora_down {}", af.path, m.key, shape_str(lr.up.shape()),
             shape_str(lr.down.shape()));
    lr.alpha = m.has_alpha ? m.alpha : static_cast<float>(lr.down.dim(0));
    out.push_back(std::move(lr));
  }
  return out;
}

std::map<std::string, Tensor> kohya_tensors(const std::vector<LowRankModule>& modules) {
  std::map<std::string, Tensor> t;
  for (const LowRankModule& m : modules) {
    std::string k = kohya_name(m.component, m.module);
    t[k + ".lora_down.weight"] = m.down;
    t[k + ".lora_up.weight"] = m.up;
    DType dt = dtype_is_float(m.down.dtype()) ? m.down.dtype() : DType::F32;
    t[k + ".alpha"] = Tensor::full({}, m.alpha).to(dt);
  }
  return t;
}

void write_kohya(const std::string& path, const std::vector<LowRankModule>& modules,
                 const std::map<std::string, std::string>& metadata) {
  io::write_safetensors(path, kohya_tensors(modules), metadata);
}

void write_kohya_with_hashes(const std::string& path, const std::vector<LowRankModule>& modules,
                             std::map<std::string, std::string> metadata) {
  const auto tensors = kohya_tensors(modules);
  metadata["sshs_model_hash"] = kohya_model_hash(tensors);
  metadata["sshs_legacy_hash"] = kohya_legacy_hash(tensors, metadata);
  io::write_safetensors(path, tensors, metadata);
}

void write_peft(const std::string& path, const std::vector<LowRankModule>& modules,
                std::map<std::string, std::string> metadata) {
  std::map<std::string, Tensor> t;
  nlohmann::json j = nlohmann::json::object();
  std::map<adapters::Component, std::vector<const LowRankModule*>> by_comp;
  for (const LowRankModule& m : modules) {
    std::string k = peft_name(m.component, m.module);
    t[k + ".lora_A.weight"] = m.down;
    t[k + ".lora_B.weight"] = m.up;
    by_comp[m.component].push_back(&m);
  }
  for (auto& [c, ms] : by_comp) {
    std::string p = adapters::component_name(c);
    std::map<int64_t, int> ranks;
    std::map<float, int> alphas;
    std::set<std::string> targets;
    for (const LowRankModule* m : ms) {
      ranks[m->rank()]++;
      alphas[m->alpha]++;
      std::string leaf = m->module.substr(m->module.rfind('.') + 1);
      if (std::all_of(leaf.begin(), leaf.end(), ::isdigit)) {  // "to_out.0": PEFT names the Linear by its path
        std::string head = m->module.substr(0, m->module.rfind('.'));
        leaf = head.substr(head.rfind('.') + 1) + "." + leaf;
      }
      targets.insert(leaf);
    }
    auto most = [](const auto& counts) {
      return std::max_element(counts.begin(), counts.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
    };
    int64_t r = most(ranks);
    float a = most(alphas);
    nlohmann::json rank_pattern = nlohmann::json::object(), alpha_pattern = nlohmann::json::object();
    for (const LowRankModule* m : ms) {
      std::string mod = c == adapters::Component::UNet || !starts_with(m->module, "text_model.") ? m->module
                                                                                                 : m->module.substr(11);
      if (m->rank() != r) rank_pattern[mod] = m->rank();
      if (m->alpha != a) alpha_pattern[mod] = m->alpha;
    }
    j[p + ".r"] = r;
    j[p + ".lora_alpha"] = a;
    j[p + ".rank_pattern"] = rank_pattern;
    j[p + ".alpha_pattern"] = alpha_pattern;
    j[p + ".target_modules"] = std::vector<std::string>(targets.begin(), targets.end());
    j[p + ".use_rslora"] = false;
    j[p + ".use_dora"] = false;
    j[p + ".bias"] = "none";
    j[p + ".peft_type"] = "LORA";
  }
  metadata["format"] = "pt";
  metadata["lora_adapter_metadata"] = j.dump(2);
  io::write_safetensors(path, t, metadata);
}

}  // namespace ls::toolbox
