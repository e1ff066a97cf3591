#include "adapters/block_weights.h"

#include <cmath>
#include <map>

#include "runtime/error.h"

namespace ls::adapters {

namespace {

bool parse_float(const std::string& s, float& v) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  if (a == std::string::npos) return false;
  std::string t = s.substr(a, b - a + 1);
  try {
    size_t used = 0;
    v = std::stof(t, &used);
    return used == t.size();
  } catch (...) {
    return false;
  }
}

// The extension's DEF_WEIGHT_PRESET (17 values: BASE, IN01, IN02, IN04, IN05, IN07, IN08, M00, OUT03…OUT11).
const std::vector<std::pair<std::string, std::string>>& named_presets() {
  static const std::vector<std::pair<std::string, std::string>> p = {
      {"NONE", "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"},   {"ALL", "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"},
      {"INS", "1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0"},    {"IND", "1,0,0,0,1,1,1,0,0,0,0,0,0,0,0,0,0"},
      {"INALL", "1,1,1,1,1,1,1,0,0,0,0,0,0,0,0,0,0"},  {"MIDD", "1,0,0,0,1,1,1,1,1,1,1,1,0,0,0,0,0"},
      {"OUTD", "1,0,0,0,0,0,0,0,1,1,1,1,0,0,0,0,0"},   {"OUTS", "1,0,0,0,0,0,0,0,0,0,0,0,1,1,1,1,1"},
      {"OUTALL", "1,0,0,0,0,0,0,0,1,1,1,1,1,1,1,1,1"},
      {"ALL0.5", "0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5"}};
  return p;
}

}  // namespace

const std::vector<std::string>& block_ids26() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v{"BASE"};
    for (int i = 0; i < 12; ++i) v.push_back(fmt::format("IN{:02}", i));
    v.push_back("M00");
    for (int i = 0; i < 12; ++i) v.push_back(fmt::format("OUT{:02}", i));
    return v;
  }();
  return ids;
}

const std::vector<std::string>& block_ids17() {
  static const std::vector<std::string> ids = {"BASE",  "IN01",  "IN02",  "IN04",  "IN05",  "IN07",
                                               "IN08",  "M00",   "OUT03", "OUT04", "OUT05", "OUT06",
                                               "OUT07", "OUT08", "OUT09", "OUT10", "OUT11"};
  return ids;
}

std::vector<std::string> block_weight_presets() {
  std::vector<std::string> v;
  for (const auto& [n, w] : named_presets()) v.push_back(n);
  for (const auto& id : block_ids17()) v.push_back(id == "M00" ? "MID" : id);
  return v;
}

std::vector<float> parse_block_weights(const std::string& spec) {
  std::string list;
  for (const auto& [n, w] : named_presets())
    if (n == spec) list = w;
  if (list.empty()) {
    const auto& ids = block_ids17();
    for (size_t i = 0; i < ids.size(); ++i)
      if (spec == ids[i] || (ids[i] == "M00" && spec == "MID")) {
        for (size_t k = 0; k < ids.size(); ++k) list += std::string(k ? "," : "") + (k == i ? "1" : "0");
      }
  }
  const bool preset = !list.empty();
  if (!preset) list = spec;
  std::vector<float> v;
  size_t start = 0;
  while (true) {
    size_t c = list.find(',', start);
    std::string item = list.substr(start, c == std::string::npos ? std::string::npos : c - start);
    float f = 0;
    if (!parse_float(item, f)) {
      if (v.empty() && list.find(',') == std::string::npos)
        fail("block weights '{}': not a preset ({}) nor a list of 17 or 26 numbers", spec,
             fmt::join(block_weight_presets(), ", "));
      fail("block weights '{}': '{}' is not a number", spec, item);
    }
    if (!std::isfinite(f)) fail("block weights '{}': {} is not finite", spec, item);
    v.push_back(f);
    if (c == std::string::npos) break;
    start = c + 1;
  }
  if (v.size() == 26) return v;
  if (v.size() != 17)
    fail("block weights '{}': {} numbers; give 17 (BASE, IN01, IN02, IN04, IN05, IN07, IN08, M00, OUT03-OUT11) or 26 "
         "(BASE, IN00-IN11, M00, OUT00-OUT11)",
         spec, v.size());
  std::vector<float> out(26, 0.0f);
  const auto& ids26 = block_ids26();
  const auto& ids17 = block_ids17();
  for (size_t i = 0; i < 17; ++i)
    for (size_t k = 0; k < 26; ++k)
      if (ids26[k] == ids17[i]) out[k] = v[i];
  return out;
}

int block_of(Component c, const std::string& name, const sd::UNetConfig& unet_config) {
  if (c != Component::UNet) return 0;
  std::string ldm = ldm_unet_name(name, unet_config);
  auto index_after = [&](const std::string& prefix) {
    if (ldm.rfind(prefix, 0) != 0) return -1;
    size_t dot = ldm.find('.', prefix.size());
    std::string num = ldm.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size());
    if (num.empty() || num.size() > 2 || num.find_first_not_of("0123456789") != std::string::npos) return -1;
    int n = std::stoi(num);
    return n < 12 ? n : -1;
  };
  if (int n = index_after("input_blocks."); n >= 0) return 1 + n;
  if (ldm.rfind("middle_block.", 0) == 0) return 13;
  if (int n = index_after("output_blocks."); n >= 0) return 14 + n;
  return -1;
}

std::function<float(const Target&)> block_scale(const std::vector<float>& ratios, const sd::UNetConfig& unet_config) {
  LS_CHECK(ratios.size() == 26, "block weights: {} ratios, expected 26", ratios.size());
  return [ratios, cfg = unet_config](const Target& t) {
    int b = block_of(t.component, t.weight, cfg);
    return b < 0 ? 1.0f : ratios[static_cast<size_t>(b)];
  };
}

}  // namespace ls::adapters
