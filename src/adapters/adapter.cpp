#include "adapters/adapter.h"

#include <algorithm>

#include <fmt/format.h>

#include "adapters/math.h"

namespace ls::adapters {

std::string AdapterReport::summary() const {
  std::string file = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
  int modules = 0;
  for (const auto& [c, n] : matched_modules) modules += n;
  std::string algos, comps;
  for (const auto& [a, n] : algo_counts) algos += fmt::format("{}{} {}", algos.empty() ? "" : ", ", a, n);
  for (const auto& [c, n] : matched_modules) comps += fmt::format("{}{} {}", comps.empty() ? "" : ", ", c, n);
  return fmt::format("{}: {} ({}), {} modules ({}) -> {}; {} tensors matched, {} unused", file, format, family,
                     modules, algos, comps, matched_tensors, unused_keys.size());
}

std::shared_ptr<const Adapter> load_adapter(const std::string& path, const KeyMap& keymap, const LoadOptions& opts) {
  return resolve_adapter(read_adapter(path), keymap, opts);
}

std::shared_ptr<const Adapter> resolve_adapter(AdapterFile file, const KeyMap& keymap, const LoadOptions& opts) {
  auto a = std::make_shared<Adapter>();
  a->file = std::move(file);
  const std::string& path = a->file.path;
  AdapterReport& rep = a->report;
  rep.path = path;
  rep.format = format_name(a->file.format);
  rep.family = a->file.family_guess;
  rep.short_hash = a->file.short_hash;
  rep.unused_keys = a->file.unknown_keys;

  std::map<std::string, std::string> owner;  // target weight → module key (duplicate detection)
  for (size_t i = 0; i < a->file.modules.size(); ++i) {
    const ModuleTensors& m = a->file.modules[i];
    const Target* t = keymap.find(m.key);
    if (!t) {
      for (const auto& k : m.file_keys()) rep.unused_keys.push_back(k);
      continue;
    }
    std::string id = std::string(component_name(t->component)) + ":" + t->weight;
    auto [it, fresh] = owner.emplace(id, m.key);
    if (!fresh)
      fail("{}: modules '{}' and '{}' both adapt '{}' of the {}", path, it->second, m.key, t->weight,
           component_name(t->component));
    Shape bias_shape = t->bias.empty() ? Shape{} : t->table->get(t->bias).base.shape();
    validate_module(m, path, t->weight, t->table->get(t->weight).base.shape(), bias_shape);
    a->modules.push_back({i, *t});
    rep.matched_modules[component_name(t->component)]++;
    rep.matched_tensors += static_cast<int>(m.parts.size());
    std::string algo = m.dora && (m.algo == Algo::LoRA || m.algo == Algo::LoCon) ? "dora" : algo_name(m.algo);
    rep.algo_counts[algo]++;
    if (m.dora && algo != "dora") rep.algo_counts["dora"]++;
  }
  std::sort(rep.unused_keys.begin(), rep.unused_keys.end());

  if (a->modules.empty()) {
    std::string first = a->file.modules.empty() ? std::string("(none)") : a->file.modules.front().key;
    fail("{}: none of its {} modules matches a weight of the model (first module '{}'); expected names like "
         "'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q' or "
         "'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q'",
         path, a->file.modules.size(), first);
  }
  if (opts.strict && !rep.unused_keys.empty())
    fail("{}: {} keys are not used (strict mode), first '{}'", path, rep.unused_keys.size(), rep.unused_keys.front());
  return a;
}

}  // namespace ls::adapters
