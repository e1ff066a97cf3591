#include "toolbox/merge.h"

#include <filesystem>
#include <map>

#include "adapters/adapter.h"
#include "adapters/block_weights.h"
#include "adapters/stack.h"
#include "io/safetensors.h"
#include "models/sd1/components.h"
#include "models/sd1/keymap.h"
#include "runtime/ops.h"
#include "toolbox/inspect.h"
#include "toolbox/linalg.h"
#include "toolbox/lora_names.h"

namespace ls::toolbox {

namespace {

bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

std::string strengths_text(const std::vector<MergeInput>& loras) {
  std::string s;
  for (const MergeInput& l : loras)
    s += (s.empty() ? "" : ", ") + fmt::format("{}:{:g}:{:g}{}", std::filesystem::path(l.path).filename().string(),
                                               l.unet_strength, l.te_strength,
                                               l.block_weights.empty() ? "" : ":lbw=" + l.block_weights);
  return s;
}

std::vector<float> parse_lbw(const MergeInput& l) {
  try {
    return adapters::parse_block_weights(l.block_weights);
  } catch (const Error& e) {
    fail("{}: {}", l.path, e.what());
  }
}

}  // namespace

MergeReport merge_into_checkpoint(const std::string& model, const std::string& config_yaml,
                                  const std::vector<MergeInput>& loras, const std::string& out,
                                  std::optional<DType> dtype) {
  if (!ends_with(out, ".safetensors")) fail("{}: the merged checkpoint is written as safetensors; name it *.safetensors", out);
  if (loras.empty()) fail("{}: no adapters to merge (give --lora FILE[:STRENGTH[:TE_STRENGTH]])", model);
  if (dtype && !dtype_is_float(*dtype)) fail("{}: dtype {} is not a float type", out, dtype_name(*dtype));
  sd::LoadedModel lm = sd::load_model(model, config_yaml);
  if (lm.family != sd::Family::SD1)
    fail("{}: a {} model; merging into a checkpoint writes SD1.x LDM files only for now", model, sd::family_name(lm.family));
  auto comps = sd::build_components(lm);
  adapters::ModelParams mp;
  mp.unet = &comps->unet_params;
  mp.text_encoder = &comps->text_params;
  mp.unet_config = &lm.unet_config;
  adapters::KeyMap keymap(mp);
  std::vector<adapters::StackEntry> entries;
  MergeReport rep;
  for (const MergeInput& l : loras) {
    adapters::StackEntry e;
    e.adapter = adapters::load_adapter(l.path, keymap);
    e.unet_strength = l.unet_strength;
    e.te_strength = l.te_strength;
    if (!l.block_weights.empty())
      e.module_scale = adapters::block_scale(parse_lbw(l), lm.unet_config);
    rep.adapters.push_back(e.adapter->report.summary());
    entries.push_back(std::move(e));
  }
  adapters::AdapterStack stack(mp);
  stack.apply(entries, adapters::ApplyMode::Fuse);
  rep.weights = stack.last_stats().recomputed;

  // Merged values where the stack changed them, the file's tensors elsewhere.
  auto value = [&](const ParamTable& table, const std::string& name, const Tensor& stored) {
    Tensor t = stored;
    if (table.has(name)) {
      const Param& p = table.get(name);
      if (!p.value.shares_storage(p.base)) t = p.value;
    }
    DType want = dtype && dtype_is_float(stored.dtype()) ? *dtype : stored.dtype();
    return t.to(want);
  };
  std::map<std::string, Tensor> all;
  for (const auto& [k, t] : lm.unet.tensors) {
    std::string ldm = sd::unet_diffusers_to_ldm(k, lm.unet_config);
    if (ldm.empty()) fail("{}: UNet weight '{}' has no LDM name", model, k);
    all.emplace(sd::kUNetPrefix + ldm, value(comps->unet_params, k, t));
  }
  for (const auto& [k, t] : lm.vae.tensors) {
    std::string ldm = sd::vae_diffusers_to_ldm(k, lm.vae_config);
    if (ldm.empty()) fail("{}: VAE weight '{}' has no LDM name", model, k);
    Tensor v = dtype && dtype_is_float(t.dtype()) ? t.to(*dtype) : t;
    if (sd::vae_is_attention_projection(k) && v.ndim() == 2) v = v.reshape({v.dim(0), v.dim(1), 1, 1});
    all.emplace(sd::kVAEPrefix + ldm, v);
  }
  for (const auto& [k, t] : lm.text_encoder.tensors)
    all.emplace(sd::kTextPrefix + sd::text_diffusers_to_ldm(k), value(comps->text_params, k, t));
  std::string pos = std::string(sd::kTextPrefix) + "text_model.embeddings.position_ids";
  if (!all.count(pos)) {
    const int64_t P = lm.text_config.max_position_embeddings;
    Tensor ids = Tensor::empty({1, P}, DType::I64);
    for (int64_t i = 0; i < P; ++i) ids.data<int64_t>()[i] = i;
    all.emplace(pos, ids);
  }
  io::write_safetensors(out, all, {{"format", "pt"}, {"lorastack_merged_loras", strengths_text(loras)}});
  return rep;
}

MergeReport merge_adapters(const std::vector<MergeInput>& loras, int64_t rank, const std::string& out, DType dtype) {
  if (loras.empty()) fail("{}: no adapters to merge (give --lora FILE[:STRENGTH[:TE_STRENGTH]])", out);
  LS_CHECK(rank >= 0, "--rank {} must not be negative", rank);
  LS_CHECK(dtype_is_float(dtype), "{}: dtype {} is not a float type", out, dtype_name(dtype));
  struct Part {
    Tensor up, down;  // up scaled by s·k (F32), down as stored
  };
  struct Target {
    adapters::Component component;
    std::string module;
    Shape down_shape;  // of the first contribution (rank replaced on output)
    int64_t out = 0, in = 0;
    std::vector<Part> parts;
  };
  std::map<std::string, Target> targets;
  const NameModel* names = nullptr;
  std::string family_meta;
  MergeReport rep;
  for (const MergeInput& l : loras) {
    adapters::AdapterFile af = adapters::read_adapter(l.path);
    const NameModel& nm = name_model(layout_family(af.family_guess, l.path));
    if (names && names != &nm)
      fail("{}: a {} adapter cannot be merged with the {} adapters before it", l.path, sd::family_name(nm.family),
           sd::family_name(names->family));
    names = &nm;
    if (family_meta.empty() && af.metadata.count("ss_base_model_version")) family_meta = af.metadata["ss_base_model_version"];
    std::vector<LowRankModule> mods = lowrank_modules(af, nm);
    const std::vector<float> ratios = l.block_weights.empty() ? std::vector<float>() : parse_lbw(l);
    for (LowRankModule& m : mods) {
      float s = m.component == adapters::Component::UNet ? l.unet_strength : l.te_strength;
      if (!ratios.empty()) {
        int b = adapters::block_of(m.component, m.module + ".weight", nm.unet_config);
        if (b >= 0) s *= ratios[static_cast<size_t>(b)];
      }
      if (s == 0.0f) continue;
      std::string key = std::string(adapters::component_name(m.component)) + ":" + m.module;
      Target& t = targets[key];
      int64_t out_dim = m.up.dim(0), in_dim = m.down.numel() / m.down.dim(0);
      if (t.parts.empty()) {
        t.component = m.component;
        t.module = m.module;
        t.down_shape = m.down.shape();
        t.out = out_dim;
        t.in = in_dim;
      } else if (t.out != out_dim || t.in != in_dim) {
        fail("{}: module '{}' is {}×{}, an earlier adapter has {}×{}", l.path, m.module, out_dim, in_dim, t.out, t.in);
      }
      Tensor up = ops::scale(m.up.to(DType::F32).reshape({out_dim, m.rank()}), s * m.scale());
      t.parts.push_back({up, m.down.to(DType::F32).reshape({m.rank(), in_dim})});
    }
    rep.adapters.push_back(fmt::format("{}: {} modules ({})", l.path, mods.size(), adapters::format_name(af.format)));
  }
  std::vector<LowRankModule> outm;
  for (auto& [key, t] : targets) {
    Tensor up, down;
    if (rank == 0) {
      std::vector<Tensor> ups, downs;
      for (const Part& p : t.parts) {
        ups.push_back(p.up);
        downs.push_back(p.down);
      }
      up = ops::cat(ups, 1);
      down = ops::cat(downs, 0);
    } else {
      Tensor delta = Tensor::zeros({t.out, t.in});
      for (const Part& p : t.parts) ops::add_(delta, ops::matmul(p.up, p.down));
      SVD s = svd(delta);
      truncate(s, std::min(rank, s.k), up, down);
    }
    int64_t r = down.dim(0);
    Shape ds = t.down_shape, us = {t.out, r};
    ds[0] = r;
    if (ds.size() == 4) us = {t.out, r, 1, 1};
    LowRankModule m;
    m.component = t.component;
    m.module = t.module;
    m.down = down.reshape(ds).to(dtype);
    m.up = up.reshape(us).to(dtype);
    m.alpha = static_cast<float>(r);
    rep.max_rank = std::max(rep.max_rank, r);
    outm.push_back(std::move(m));
  }
  rep.weights = static_cast<int>(outm.size());
  if (outm.empty()) fail("{}: nothing to write: every strength is 0", out);
  std::map<std::string, std::string> md;
  md["ss_network_module"] = "networks.lora";
  md["ss_network_dim"] = rank == 0 ? std::string("Dynamic") : std::to_string(rank);
  md["ss_network_alpha"] = rank == 0 ? std::string("Dynamic") : std::to_string(rank);
  md["ss_base_model_version"] = family_meta.empty() ? (names->family == sd::Family::SD2 ? "sd_v2" : "sd_v1") : family_meta;
  md["ss_training_comment"] =
      fmt::format("merged by lorastack ({}) from {}", rank == 0 ? std::string("concat") : "svd rank " + std::to_string(rank),
                  strengths_text(loras));
  write_kohya_with_hashes(out, outm, md);
  return rep;
}

}  // namespace ls::toolbox
