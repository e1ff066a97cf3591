#include "toolbox/convert.h"

#include <filesystem>
#include <map>

#include "adapters/adapter_file.h"
#include "toolbox/lora_names.h"

namespace ls::toolbox {

LoraLayout parse_layout(const std::string& s) {
  if (s == "kohya") return LoraLayout::Kohya;
  if (s == "peft" || s == "diffusers") return LoraLayout::PEFT;
  fail("unknown adapter layout '{}': use kohya or peft", s);
}

ConvertReport convert_adapter(const std::string& in, LoraLayout to, const std::string& out) {
  std::error_code ec;
  if (std::filesystem::equivalent(in, out, ec)) fail("{}: output is the input file; choose another -o", out);
  adapters::AdapterFile af = adapters::read_adapter(in);
  if (!af.unknown_keys.empty())
    fail("{}: {} keys are not adapter tensors (first '{}'); refusing to drop them", in, af.unknown_keys.size(),
         af.unknown_keys.front());
  const NameModel& names = name_model(layout_family(af.family_guess, in));
  std::vector<LowRankModule> mods = lowrank_modules(af, names);
  ConvertReport rep;
  rep.from_format = adapters::format_name(af.format);
  rep.modules = static_cast<int>(mods.size());
  for (const auto& m : mods) (m.component == adapters::Component::UNet ? rep.unet_modules : rep.te_modules)++;
  std::map<std::string, std::string> md = af.metadata;
  md.erase("lora_adapter_metadata");
  md.erase("format");
  if (to == LoraLayout::PEFT) {
    write_peft(out, mods, md);
  } else {
    std::map<int64_t, int> ranks;
    std::map<float, int> alphas;
    bool conv = false;
    for (const auto& m : mods) {
      ranks[m.rank()]++;
      alphas[m.alpha]++;
      conv = conv || m.down.ndim() == 4;
    }
    auto most = [](const auto& c) {
      return std::max_element(c.begin(), c.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
    };
    if (!mods.empty()) {
      md.emplace("ss_network_module", "networks.lora");
      md.emplace("ss_network_dim", std::to_string(most(ranks)));
      md.emplace("ss_network_alpha", fmt::format("{}", most(alphas)));
    }
    write_kohya(out, mods, md);
  }
  return rep;
}

}  // namespace ls::toolbox
