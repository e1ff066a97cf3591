// A1111 LoRA prompt tags and LoRA name resolution (extensions-builtin/Lora as reference for the syntax:
// <lora:name:te_multiplier[:unet_multiplier[:dyn]]>, named te=/unet=/dyn= allowed).
#include <algorithm>
#include <filesystem>
#include <regex>

#include "lorastack/lorastack.h"
#include "runtime/error.h"

namespace lorastack {

namespace {
float parse_weight(const std::string& tag, const std::string& v) {
  try {
    size_t used = 0;
    float f = std::stof(v, &used);
    if (used == v.size() && std::isfinite(f)) return f;
  } catch (const std::exception&) {
  }
  ls::fail("prompt tag '{}': weight '{}' is not a number", tag, v);
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

std::vector<LoraSpec> extract_lora_tags(std::string& prompt) {
  std::vector<LoraSpec> out;
  static const std::regex tag_re(R"(<(lora|lyco):([^>]*)>)", std::regex::icase);
  std::string rest;
  auto begin = std::sregex_iterator(prompt.begin(), prompt.end(), tag_re);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    rest += prompt.substr(last, static_cast<size_t>(m.position(0)) - last);
    last = static_cast<size_t>(m.position(0) + m.length(0));
    const std::string tag = m.str(0);
    std::vector<std::string> parts;
    std::string body = m.str(2);
    size_t p = 0, q;
    while ((q = body.find(':', p)) != std::string::npos) {
      parts.push_back(trim(body.substr(p, q - p)));
      p = q + 1;
    }
    parts.push_back(trim(body.substr(p)));
    if (parts.empty() || parts[0].empty()) ls::fail("prompt tag '{}': no LoRA name", tag);
    LoraSpec s;
    s.path = parts[0];
    std::vector<float> positional;
    bool te_set = false, unet_set = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string& a = parts[i];
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        std::string key = trim(a.substr(0, eq)), val = trim(a.substr(eq + 1));
        if (key == "te") { s.te_strength = parse_weight(tag, val); te_set = true; }
        else if (key == "unet") { s.unet_strength = parse_weight(tag, val); unet_set = true; }
        else if (key == "dyn" || key == "lbw" || key == "start" || key == "stop") {}  // not supported: ignored by design
        else ls::fail("prompt tag '{}': unknown argument '{}'", tag, key);
      } else {
        positional.push_back(parse_weight(tag, a));
      }
    }
    if (!positional.empty() && !te_set) { s.te_strength = positional[0]; te_set = true; }
    if (positional.size() >= 2 && !unet_set) { s.unet_strength = positional[1]; unet_set = true; }
    if (!unet_set) s.unet_strength = s.te_strength;  // A1111: unet defaults to te
    out.push_back(s);
  }
  if (!out.empty()) {
    rest += prompt.substr(last);
    // collapse whitespace runs left behind and trim
    std::string collapsed;
    bool space = false;
    for (char c : rest) {
      if (c == ' ' || c == '\t') {
        space = true;
      } else {
        if (space && !collapsed.empty()) collapsed += ' ';
        space = false;
        collapsed += c;
      }
    }
    prompt = collapsed;
  }
  return out;
}

std::string resolve_lora(const std::string& name, const std::string& lora_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(name, ec)) return name;
  if (!lora_dir.empty() && fs::is_regular_file(fs::path(lora_dir) / name, ec)) return (fs::path(lora_dir) / name).string();
  if (lora_dir.empty()) ls::fail("LoRA '{}': no such file (give a path, or --lora-dir DIR to look names up)", name);
  if (!fs::is_directory(lora_dir, ec)) ls::fail("LoRA dir '{}': not a folder", lora_dir);
  static const char* exts[] = {".safetensors", ".ckpt", ".pt", ".pth"};
  std::vector<std::string> hits;
  for (auto it = fs::recursive_directory_iterator(lora_dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const fs::path& p = it->path();
    std::string ext = p.extension().string();
    if (std::find(std::begin(exts), std::end(exts), ext) == std::end(exts)) continue;
    fs::path rel = fs::relative(p, lora_dir, ec);
    std::string rel_stem = (rel.parent_path() / rel.stem()).generic_string();
    if (p.stem().string() == name || rel_stem == name) hits.push_back(p.string());
  }
  std::sort(hits.begin(), hits.end());
  if (hits.empty()) ls::fail("LoRA '{}': not found in {} (looked for <name>.safetensors/.ckpt/.pt/.pth, subfolders too)", name, lora_dir);
  if (hits.size() > 1) ls::fail("LoRA '{}': ambiguous in {}: {} and {}", name, lora_dir, hits[0], hits[1]);
  return hits[0];
}

}  // namespace lorastack
