#include "toolbox/extract.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "models/sd1/loader.h"
#include "runtime/ops.h"
#include "toolbox/inspect.h"
#include "toolbox/linalg.h"
#include "toolbox/lora_names.h"

namespace ls::toolbox {

namespace {

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
bool contains(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }

// Is `name` (a diffusers weight name) a module kohya's LoRA network adapts? `conv`: include the resnet /
// sampler layers (kohya's conv_dim).
bool unet_target(const std::string& name, const Shape& s, bool conv) {
  if (!ends_with(name, ".weight") || (s.size() != 2 && s.size() != 4)) return false;
  if (contains(name, ".attentions.")) return true;
  return conv && (contains(name, ".resnets.") || contains(name, ".downsamplers.") || contains(name, ".upsamplers."));
}

bool text_target(const std::string& name, const Shape& s) {
  if (s.size() != 2) return false;
  for (const char* leaf : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                           "self_attn.out_proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"})
    if (ends_with(name, leaf)) return true;
  return false;
}

}  // namespace

ExtractReport extract_lora(const std::string& base, const std::string& tuned, const ExtractOptions& opts,
                           const std::string& out) {
  LS_CHECK(opts.rank >= 1, "--rank {} must be at least 1", opts.rank);
  LS_CHECK(opts.conv_rank >= 0, "--conv-rank {} must not be negative", opts.conv_rank);
  LS_CHECK(opts.clamp_quantile > 0 && opts.clamp_quantile <= 1, "--clamp-quantile {} must be in (0, 1]",
           opts.clamp_quantile);
  LS_CHECK(opts.min_diff >= 0, "--min-diff {} must not be negative", opts.min_diff);
  sd::LoadedModel a = sd::load_model(base, opts.base_config);
  sd::LoadedModel b = sd::load_model(tuned, opts.tuned_config);
  if (a.family != b.family)
    fail("{}: family {} differs from {} of {}", tuned, sd::family_name(b.family), sd::family_name(a.family), base);
  ExtractReport rep;
  rep.family = sd::family_name(a.family);
  std::vector<LowRankModule> mods;

  auto run = [&](const io::TensorFile& ta, const io::TensorFile& tb, adapters::Component comp) {
    for (const auto& [name, wa] : ta.tensors) {
      bool is_target = comp == adapters::Component::UNet ? unet_target(name, wa.shape(), opts.conv_rank > 0)
                                                         : text_target(name, wa.shape());
      if (!is_target) continue;
      auto it = tb.tensors.find(name);
      if (it == tb.tensors.end()) fail("{}: weight '{}' of {} is missing", tuned, name, base);
      if (it->second.shape() != wa.shape())
        fail("{}: weight '{}' has shape {}, {} has {}", tuned, name, shape_str(it->second.shape()), base,
             shape_str(wa.shape()));
      Tensor diff = ops::sub(it->second.to(DType::F32), wa.to(DType::F32));
      float mx = 0;
      for (float v : diff.f32()) mx = std::max(mx, std::abs(v));
      if (!std::isfinite(mx)) fail("{}: weight '{}' differs by a non-finite value", tuned, name);
      if (mx < opts.min_diff) {
        rep.skipped++;
        continue;
      }
      bool spatial = wa.ndim() == 4 && wa.dim(2) * wa.dim(3) > 1;
      int64_t want = spatial ? opts.conv_rank : opts.rank;
      if (want <= 0) continue;
      SVD s = svd(diff);
      int64_t r = std::min(want, s.k);
      Tensor up, down;
      truncate(s, r, up, down);
      if (opts.clamp_quantile < 1.0) {
        std::vector<float> dist(up.f32().begin(), up.f32().end());
        dist.insert(dist.end(), down.f32().begin(), down.f32().end());
        float hi = static_cast<float>(quantile(std::move(dist), opts.clamp_quantile));
        for (float& v : up.f32()) v = std::clamp(v, -hi, hi);
        for (float& v : down.f32()) v = std::clamp(v, -hi, hi);
      }
      LowRankModule m;
      m.component = comp;
      m.module = name.substr(0, name.size() - 7);
      if (wa.ndim() == 4) {
        m.down = down.reshape({r, wa.dim(1), wa.dim(2), wa.dim(3)}).to(opts.dtype);
        m.up = up.reshape({wa.dim(0), r, 1, 1}).to(opts.dtype);
      } else {
        m.down = down.to(opts.dtype);
        m.up = up.to(opts.dtype);
      }
      m.alpha = static_cast<float>(r);
      (comp == adapters::Component::UNet ? rep.unet_modules : rep.te_modules)++;
      mods.push_back(std::move(m));
    }
  };
  run(a.unet, b.unet, adapters::Component::UNet);
  run(a.text_encoder, b.text_encoder, adapters::Component::TextEncoder);
  rep.modules = static_cast<int>(mods.size());
  if (mods.empty())
    fail("{}: no adaptable weight differs from {} by --min-diff {} or more ({} checked)", tuned, base, opts.min_diff,
         rep.skipped);

  std::map<std::string, std::string> md;
  md["ss_network_module"] = "networks.lora";
  md["ss_network_dim"] = std::to_string(opts.rank);
  md["ss_network_alpha"] = std::to_string(opts.rank);
  if (opts.conv_rank > 0)
    md["ss_network_args"] = nlohmann::json({{"conv_dim", std::to_string(opts.conv_rank)},
                                            {"conv_alpha", std::to_string(opts.conv_rank)}}).dump();
  md["ss_base_model_version"] = a.family == sd::Family::SD2 ? "sd_v2" : "sd_v1";
  md["ss_v2"] = a.family == sd::Family::SD2 ? "True" : "False";
  md["ss_training_comment"] = fmt::format("extracted by lorastack from {} − {}", tuned, base);
  write_kohya_with_hashes(out, mods, md);
  return rep;
}

}  // namespace ls::toolbox
