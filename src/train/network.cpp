// Trainable networks (train/network.h): module selection as kohya networks/lora.py create_modules, init and
// forward of each algorithm, kohya-named state dicts.
#include "train/network.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "runtime/autograd.h"
#include "runtime/error.h"
#include "train/weight_delta.h"

namespace ls::train {

NetworkType network_type_from_name(const std::string& name) {
  static const std::pair<const char*, NetworkType> names[] = {
      {"lora", NetworkType::LoRA}, {"locon", NetworkType::LoCon}, {"loha", NetworkType::LoHa},
      {"lokr", NetworkType::LoKr}, {"dora", NetworkType::DoRA},   {"full", NetworkType::Full}};
  for (auto& [n, t] : names)
    if (name == n) return t;
  fail("--network '{}': expected lora, locon, loha, lokr, dora or full", name);
}

const char* network_type_name(NetworkType t) {
  switch (t) {
    case NetworkType::LoRA: return "lora";
    case NetworkType::LoCon: return "locon";
    case NetworkType::LoHa: return "loha";
    case NetworkType::LoKr: return "lokr";
    case NetworkType::DoRA: return "dora";
    case NetworkType::Full: return "full";
  }
  return "?";
}

namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

/// kohya's module choice for the UNet: every Linear / Conv2d inside a Transformer2DModel; with conv
/// modules (LoCon and the LyCORIS types), also those inside ResnetBlock2D / Downsample2D / Upsample2D.
bool unet_target(const std::string& name, const Param& p, bool conv_modules) {
  if (p.spec.kind == LayerSpec::Kind::Other || p.base.ndim() < 2) return false;
  if (contains(name, ".attentions.")) return true;
  if (!conv_modules) return false;
  return contains(name, ".resnets.") || contains(name, ".downsamplers.") || contains(name, ".upsamplers.");
}

/// CLIPAttention and CLIPMLP linears of the text encoder.
bool text_target(const std::string& name, const Param& p) {
  return p.spec.kind == LayerSpec::Kind::Linear && contains(name, ".encoder.layers.") &&
         (contains(name, ".self_attn.") || contains(name, ".mlp."));
}

/// "down_blocks.0.attentions.0.proj_in.weight" → "lora_unet_down_blocks_0_attentions_0_proj_in".
std::string kohya_name(const std::string& prefix, std::string param) {
  param = param.substr(0, param.size() - std::string(".weight").size());
  std::replace(param.begin(), param.end(), '.', '_');
  return prefix + param;
}

/// The runtime path of a trainable LoRA / LoCon module: (α/r)·up(down(x)), leaves cast to x's dtype
/// inside the recorded graph (mixed precision keeps F32 masters).
class TrainLoRAPath : public SidePath {
 public:
  TrainLoRAPath(Tensor down, Tensor up, float scale) : down_(std::move(down)), up_(std::move(up)), scale_(scale) {}
  Tensor forward(const Tensor& x, const LayerSpec& spec) const override {
    const Tensor d = down_.dtype() == x.dtype() ? down_ : down_.to(x.dtype());
    const Tensor u = up_.dtype() == x.dtype() ? up_ : up_.to(x.dtype());
    Tensor h;
    if (spec.kind == LayerSpec::Kind::Conv2d) {
      h = ops::conv2d(ops::conv2d(x, d, {}, spec.stride, spec.padding), u, {});
    } else {
      h = ops::linear(ops::linear(x, d), u);
    }
    return ops::scale(h, scale_);
  }

 private:
  Tensor down_, up_;
  float scale_;
};

bool is_side_path_type(NetworkType t) { return t == NetworkType::LoRA || t == NetworkType::LoCon; }

}  // namespace

struct Network::State {
  bool attached = false;
  Device device = Device::CPU;
  std::vector<std::shared_ptr<const SidePath>> paths;        // one per module (side-path types)
  std::vector<std::pair<Param*, Tensor>> replaced;           // (param, frozen value) during a step / full
  std::vector<std::pair<Param*, Tensor>> step_replaced;      // full, 16-bit compute: values replaced for one step
  bool cast_per_step = false;                                // full with a 16-bit compute dtype
};

Network::Network(sd::Components& comps, const NetworkConfig& cfg)
    : comps_(comps), cfg_(cfg), state_(std::make_unique<State>()) {
  if (cfg.rank < 1 && cfg.type != NetworkType::Full) fail("--rank {}: must be at least 1", cfg.rank);
  if (!std::isfinite(cfg.alpha) || cfg.alpha <= 0.0f) fail("--alpha {}: must be a positive number", cfg.alpha);
  std::mt19937_64 gen(cfg.seed ^ 0x6c6f7261ULL);
  const bool conv_modules = cfg.type != NetworkType::LoRA;
  const int conv_rank = cfg.conv_rank > 0 ? cfg.conv_rank : cfg.rank;
  const float conv_alpha = cfg.conv_alpha > 0.0f ? cfg.conv_alpha : cfg.alpha;

  auto add_module = [&](const std::string& prefix, const std::string& name, Param& p) {
    TrainModule m;
    m.name = kohya_name(prefix, name);
    m.target = &p;
    const Shape& ws = p.base.shape();
    m.conv3x3 = ws.size() == 4 && (ws[2] > 1 || ws[3] > 1);
    m.rank = static_cast<int>(std::min<int64_t>(m.conv3x3 ? conv_rank : cfg.rank, std::min(ws[0], ws[1])));
    m.alpha = m.conv3x3 ? conv_alpha : cfg.alpha;
    init_module(m, cfg.type, cfg.lokr_factor, gen);
    modules_.push_back(std::move(m));
  };
  if (cfg.type == NetworkType::Full) {
    auto add_full = [&](const std::string& prefix, ParamTable& t) {
      for (auto& [name, p] : t.all()) {
        TrainModule m;
        m.name = prefix + name;
        m.target = &p;
        m.tensors["weight"] = p.base.to_device(Device::CPU).to(DType::F32).clone();  // fp32 master
        modules_.push_back(std::move(m));
      }
    };
    if (cfg.train_unet) add_full("unet.", comps.unet_params);
    if (cfg.train_text_encoder) add_full("text_encoder.", comps.text_params);
  } else {
    if (cfg.train_text_encoder)
      for (auto& [name, p] : comps.text_params.all())
        if (text_target(name, p)) add_module("lora_te_", name, p);
    if (cfg.train_unet)
      for (auto& [name, p] : comps.unet_params.all())
        if (unet_target(name, p, conv_modules)) add_module("lora_unet_", name, p);
  }
  if (modules_.empty())
    fail("network {}: no module to train (is --unet-only combined with a text-encoder-only setting?)",
         network_type_name(cfg.type));
}

Network::~Network() {
  try {
    detach();
  } catch (...) {  // never throw from a destructor; the model is being torn down with the network anyway
  }
}

void Network::attach(Device device) {
  if (state_->attached) return;
  state_->device = device;
  for (TrainModule& m : modules_)
    for (auto& [suffix, t] : m.tensors) {
      t = t.to_device(device);
      t.set_requires_grad(true);
    }
  if (is_side_path_type(cfg_.type)) {
    for (TrainModule& m : modules_) {
      auto path = std::make_shared<TrainLoRAPath>(m.tensors.at("lora_down.weight"), m.tensors.at("lora_up.weight"),
                                                  m.alpha / static_cast<float>(m.rank));
      m.target->side.push_back(path);
      state_->paths.push_back(path);
    }
  } else if (cfg_.type == NetworkType::Full) {
    // fp32 compute: the masters are the weights; 16-bit compute: begin_step casts them inside the recorded graph
    for (TrainModule& m : modules_) {
      if (m.target->compute != DType::F32) {
        state_->cast_per_step = true;
        continue;
      }
      state_->replaced.emplace_back(m.target, m.target->value);
      m.target->value = m.tensors.at("weight");
    }
  }
  state_->attached = true;
}

void Network::detach() {
  if (!state_->attached) return;
  end_step();
  for (size_t i = 0; i < state_->paths.size(); ++i) {
    auto& side = modules_[i].target->side;
    side.erase(std::remove(side.begin(), side.end(), state_->paths[i]), side.end());
  }
  state_->paths.clear();
  if (cfg_.type == NetworkType::Full) {
    // the trained weights stay in the model (detached from the tape), as a fine-tune should
    for (TrainModule& m : modules_) m.target->set_value(m.tensors.at("weight").detach());
    state_->replaced.clear();
  }
  state_->attached = false;
}

void Network::begin_step() {
  if (!state_->attached || is_side_path_type(cfg_.type)) return;
  if (cfg_.type == NetworkType::Full) {
    if (!state_->cast_per_step) return;
    for (TrainModule& m : modules_) {
      Param& p = *m.target;
      if (p.compute == DType::F32) continue;
      state_->step_replaced.emplace_back(&p, p.value);
      p.value = m.tensors.at("weight").to(p.compute);  // recorded: gradients flow back to the fp32 master
    }
    return;
  }
  for (TrainModule& m : modules_) {
    Param& p = *m.target;
    state_->replaced.emplace_back(&p, p.value);
    const Tensor w = p.value.dtype() == DType::F32 ? p.value : p.value.to(DType::F32);
    Tensor merged = merged_weight(m, cfg_.type, w.detach());
    p.value = p.value.dtype() == DType::F32 ? merged : merged.to(p.value.dtype());
  }
}

void Network::end_step() {
  if (cfg_.type == NetworkType::Full) {
    for (auto& [p, v] : state_->step_replaced) p->value = v;
    state_->step_replaced.clear();
    return;
  }
  for (auto& [p, v] : state_->replaced) p->value = v;
  state_->replaced.clear();
}

std::vector<Tensor*> Network::parameters() {
  std::vector<Tensor*> out;
  for (TrainModule& m : modules_)
    for (auto& [suffix, t] : m.tensors) out.push_back(&t);
  return out;
}

std::vector<std::string> Network::parameter_names() {
  std::vector<std::string> out;
  for (TrainModule& m : modules_)
    for (auto& [suffix, t] : m.tensors) out.push_back(cfg_.type == NetworkType::Full ? m.name : m.name + "." + suffix);
  return out;
}

size_t Network::num_parameters() {
  size_t n = 0;
  for (Tensor* t : parameters()) n += static_cast<size_t>(t->numel());
  return n;
}

std::map<std::string, Tensor> Network::state_dict(DType dtype) const {
  std::map<std::string, Tensor> out;
  for (const TrainModule& m : modules_) {
    if (cfg_.type == NetworkType::Full) {
      out[m.name] = m.tensors.at("weight").detach().to_device(Device::CPU).to(dtype);
      continue;
    }
    for (const auto& [suffix, t] : m.tensors) out[m.name + "." + suffix] = t.detach().to_device(Device::CPU).to(dtype);
    Tensor a = Tensor::empty({}, DType::F32);
    a.f32()[0] = m.alpha;
    out[m.name + ".alpha"] = a.to(dtype);
  }
  return out;
}

void Network::load_state_dict(const std::map<std::string, Tensor>& tensors) {
  if (state_->attached) fail("resume: load the saved network before attaching it");
  for (TrainModule& m : modules_)
    for (auto& [suffix, t] : m.tensors) {
      const std::string key = cfg_.type == NetworkType::Full ? m.name : m.name + "." + suffix;
      auto it = tensors.find(key);
      if (it == tensors.end()) fail("resume: the saved network has no tensor '{}'", key);
      if (it->second.shape() != t.shape())
        fail("resume: tensor '{}' has shape {}, the network expects {}", key, shape_str(it->second.shape()),
             shape_str(t.shape()));
      t = it->second.to_device(Device::CPU).to(DType::F32).clone();
    }
}

std::string Network::network_module() const {
  return is_side_path_type(cfg_.type) ? "networks.lora" : "lycoris.kohya";
}

std::string Network::network_args_json() const {
  nlohmann::json j = nlohmann::json::object();
  if (cfg_.type == NetworkType::LoRA || cfg_.type == NetworkType::Full) return "";
  if (cfg_.type != NetworkType::LoCon) j["algo"] = network_type_name(cfg_.type);  // kohya's own LoCon: conv_dim
  j["conv_dim"] = std::to_string(cfg_.conv_rank > 0 ? cfg_.conv_rank : cfg_.rank);
  j["conv_alpha"] = std::to_string(cfg_.conv_alpha > 0 ? cfg_.conv_alpha : cfg_.alpha);
  if (cfg_.type == NetworkType::DoRA) j["dora_wd"] = "True";
  if (cfg_.type == NetworkType::LoKr) j["factor"] = std::to_string(cfg_.lokr_factor);
  return j.dump();
}

}  // namespace ls::train
