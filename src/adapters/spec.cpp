#include "adapters/spec.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "adapters/block_weights.h"
#include "runtime/error.h"

namespace ls::adapters {

namespace {

bool parse_float(const std::string& s, float& v) {
  if (s.empty()) return false;
  try {
    size_t used = 0;
    v = std::stof(s, &used);
    return used == s.size();
  } catch (...) {
    return false;
  }
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

}  // namespace

LoraSpec parse_lora_arg(const std::string& arg) {
  LoraSpec spec;
  std::string rest = arg;
  if (size_t c = rest.rfind(':'); c != std::string::npos && rest.compare(c + 1, 4, "lbw=") == 0) {
    spec.block_weights = rest.substr(c + 5);
    rest = rest.substr(0, c);
    try {
      parse_block_weights(spec.block_weights);
    } catch (const Error& e) {
      fail("--lora '{}': {}", arg, e.what());
    }
  }
  std::vector<float> nums;
  while (nums.size() < 2) {
    size_t c = rest.rfind(':');
    float v;
    if (c == std::string::npos || !parse_float(rest.substr(c + 1), v)) break;
    nums.insert(nums.begin(), v);
    rest = rest.substr(0, c);
  }
  if (rest.empty()) fail("--lora '{}': no adapter name or path", arg);
  spec.name = rest;
  if (!nums.empty()) spec.unet_strength = spec.te_strength = nums[0];
  if (nums.size() == 2) spec.te_strength = nums[1];
  if (!std::isfinite(spec.unet_strength) || !std::isfinite(spec.te_strength))
    fail("--lora '{}': strength is not finite", arg);
  return spec;
}

std::string extract_prompt_loras(const std::string& prompt, std::vector<LoraSpec>& out) {
  std::string text;
  size_t pos = 0;
  while (pos < prompt.size()) {
    size_t open = prompt.find('<', pos);
    if (open == std::string::npos) break;
    size_t close = prompt.find('>', open);
    std::string body = close == std::string::npos ? "" : prompt.substr(open + 1, close - open - 1);
    bool tag = body.rfind("lora:", 0) == 0 || body.rfind("lyco:", 0) == 0;
    if (!tag) {
      text += prompt.substr(pos, open + 1 - pos);
      pos = open + 1;
      continue;
    }
    text += prompt.substr(pos, open - pos);
    pos = close + 1;
    std::vector<std::string> fields;
    size_t s = 5;
    for (size_t c; (c = body.find(':', s)) != std::string::npos; s = c + 1) fields.push_back(body.substr(s, c - s));
    fields.push_back(body.substr(s));
    LoraSpec spec;
    spec.name = trim(fields[0]);
    if (spec.name.empty()) fail("prompt tag <{}>: no adapter name", body);
    std::vector<float> positional;
    bool te_set = false, unet_set = false;
    for (size_t i = 1; i < fields.size(); ++i) {
      std::string f = trim(fields[i]);
      size_t eq = f.find('=');
      float v;
      if (eq != std::string::npos) {
        std::string k = f.substr(0, eq);
        if (k == "lbw") {
          spec.block_weights = trim(f.substr(eq + 1));
          try {
            parse_block_weights(spec.block_weights);
          } catch (const Error& e) {
            fail("prompt tag <{}>: {}", body, e.what());
          }
          continue;
        }
        if (k != "te" && k != "unet") continue;  // dyn=, start=, stop=: not supported, ignored
        if (!parse_float(f.substr(eq + 1), v)) fail("prompt tag <{}>: '{}' is not a number", body, f);
        (k == "te" ? spec.te_strength : spec.unet_strength) = v;
        (k == "te" ? te_set : unet_set) = true;
        continue;
      }
      if (!parse_float(f, v)) fail("prompt tag <{}>: '{}' is not a number", body, f);
      positional.push_back(v);
    }
    if (!positional.empty() && !te_set) spec.te_strength = positional[0], te_set = true;
    if (positional.size() > 1 && !unet_set) spec.unet_strength = positional[1], unet_set = true;
    if (!unet_set) spec.unet_strength = spec.te_strength;
    out.push_back(spec);
  }
  text += prompt.substr(std::min(pos, prompt.size()));
  std::string clean;
  for (char ch : text)
    if (!(ch == ' ' && !clean.empty() && clean.back() == ' ')) clean += ch;
  return trim(clean);
}

std::string resolve_lora_path(const std::string& name, const std::vector<std::string>& dirs) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(name, ec)) return name;
  std::string searched;
  for (const std::string& d : dirs) {
    searched += (searched.empty() ? "" : ", ") + d;
    if (!fs::is_directory(d, ec)) continue;
    std::vector<fs::path> hits;
    for (auto it = fs::recursive_directory_iterator(d, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file(ec)) continue;
      fs::path p = it->path();
      std::string rel = fs::relative(p, d, ec).replace_extension().generic_string();
      if (p.stem().string() == name || rel == name || p.filename().string() == name) hits.push_back(p);
    }
    std::sort(hits.begin(), hits.end(), [](const fs::path& a, const fs::path& b) {
      bool sa = a.extension() == ".safetensors", sb = b.extension() == ".safetensors";
      return sa != sb ? sa : a < b;
    });
    if (!hits.empty()) return hits.front().string();
  }
  fail("adapter '{}': no such file, and no file with that name in {}", name,
       searched.empty() ? std::string("(no --lora-dir given)") : searched);
}

std::vector<StackEntry> load_stack(const std::vector<LoraSpec>& specs, const std::vector<std::string>& dirs,
                                   const KeyMap& keymap, AdapterCache& cache, const LoadOptions& opts) {
  std::vector<StackEntry> out;
  for (const LoraSpec& s : specs) {
    std::string path = resolve_lora_path(s.name, dirs);
    auto it = cache.find(path);
    if (it == cache.end()) it = cache.emplace(path, load_adapter(path, keymap, opts)).first;
    StackEntry e{it->second, s.unet_strength, s.te_strength, {}};
    if (!s.block_weights.empty()) {
      const sd::UNetConfig* cfg = keymap.params().unet_config;
      if (!cfg) fail("adapter '{}': block weights need the UNet config (build the KeyMap with unet_config)", s.name);
      e.module_scale = block_scale(parse_block_weights(s.block_weights), *cfg);
    }
    out.push_back(std::move(e));
  }
  return out;
}


}  // namespace ls::adapters
