// Shared fixtures of the adapter tests: the tiny SD1 model's UNet and text-encoder parameter tables built
// straight from refsuite/model/tiny-sd1 (ParamTable::add per tensor), its KeyMap, and tensor helpers.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "adapters/keymap.h"
#include "io/safetensors.h"
#include "models/sd1/clip_text.h"
#include "models/sd1/config.h"
#include "models/sd1/unet.h"

namespace ls::adapters_test {

inline std::string refsuite(const std::string& rel) { return std::string(LS_SHARED_DIR) + "/refsuite/" + rel; }
inline std::string adapter_path(const std::string& rel) { return refsuite("adapters/" + rel); }

/// The tiny SD1 model's adapter-visible parameters. Built once per test binary; tests must leave every
/// parameter at its base when they finish (AdapterStack::clear()).
struct Model {
  io::TensorFile unet_file, te_file;
  ParamTable unet{"unet"}, te{"text_encoder"};
  sd::UNetConfig unet_config;
  sd::CLIPTextConfig text_config;
  adapters::KeyMap keymap{adapters::ModelParams{}};
  std::unique_ptr<sd::UNet2DConditionModel> unet_model;  ///< bound to `unet` (sets each Param's LayerSpec)
  std::unique_ptr<sd::CLIPTextModel> text_model;         ///< bound to `te`

  Model() {
    unet_file = io::read_safetensors(refsuite("model/tiny-sd1/unet/diffusion_pytorch_model.safetensors"));
    te_file = io::read_safetensors(refsuite("model/tiny-sd1/text_encoder/model.safetensors"));
    for (const auto& [k, t] : unet_file.tensors) unet.add(k, t);
    for (const auto& [k, t] : te_file.tensors)
      if (dtype_is_float(t.dtype())) te.add(k, t);
    unet_config.block_out_channels = {32, 64, 64, 64};
    unet_config.num_heads = {8, 8, 8, 8};
    unet_config.cross_attention_dim = 32;
    unet_config.sample_size = 16;
    text_config.hidden_size = 32;
    text_config.intermediate_size = 64;
    text_config.num_attention_heads = 4;
    text_config.num_hidden_layers = 3;
    keymap = adapters::KeyMap(params());
    unet_model = std::make_unique<sd::UNet2DConditionModel>(unet, unet_config);
    text_model = std::make_unique<sd::CLIPTextModel>(te, text_config);
  }
  adapters::ModelParams params() {
    adapters::ModelParams p;
    p.unet = &unet;
    p.text_encoder = &te;
    p.unet_config = &unet_config;
    return p;
  }
  /// The parameter `name` of either table.
  Param& find(const std::string& name) { return unet.has(name) ? unet.get(name) : te.get(name); }
};

inline Model& model() {
  static Model m;
  return m;
}

/// Every parameter's current value, keyed "component:name" (values are never written in place, so the
/// tensors stay valid snapshots).
inline std::map<std::string, Tensor> snapshot(Model& m) {
  std::map<std::string, Tensor> out;
  for (auto* t : {&m.unet, &m.te})
    for (const auto& [name, p] : t->all()) out[t->component() + ":" + name] = p.value;
  return out;
}

inline float max_abs(const Tensor& t) {
  Tensor f = t.to(DType::F32);
  float m = 0;
  for (float v : f.f32()) m = std::max(m, std::fabs(v));
  return m;
}

inline float max_abs_diff(const Tensor& a, const Tensor& b) {
  Tensor x = a.to(DType::F32), y = b.to(DType::F32);
  if (x.numel() != y.numel()) return INFINITY;
  float m = 0;
  auto xs = x.f32();
  auto ys = y.f32();
  for (size_t i = 0; i < xs.size(); ++i) m = std::max(m, std::fabs(xs[i] - ys[i]));
  return m;
}

inline Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor x = a.to(DType::F32).clone(), y = b.to(DType::F32);
  auto xs = x.f32();
  auto ys = y.f32();
  for (size_t i = 0; i < xs.size(); ++i) xs[i] -= ys[i];
  return x;
}

inline Tensor scaled(const Tensor& a, float s) {
  Tensor x = a.to(DType::F32).clone();
  for (float& v : x.f32()) v *= s;
  return x;
}

}  // namespace ls::adapters_test
