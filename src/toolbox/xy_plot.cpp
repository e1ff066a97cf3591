#include "toolbox/xy_plot.h"

#include <cmath>
#include <filesystem>

#include "runtime/error.h"

namespace ls::toolbox {

namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// Comma-separated values; double quotes protect commas (and are removed).
std::vector<std::string> split_values(const std::string& spec, const std::string& list) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (char c : list) {
    if (c == '"') {
      quoted = !quoted;
      was_quoted = true;
      continue;
    }
    if (c == ',' && !quoted) {
      out.push_back(was_quoted ? cur : trim(cur));
      cur.clear();
      was_quoted = false;
      continue;
    }
    cur += c;
  }
  if (quoted) fail("--xy '{}': a double quote is not closed", spec);
  out.push_back(was_quoted ? cur : trim(cur));
  return out;
}

bool parse_u64(const std::string& s, uint64_t& v) {
  if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  try {
    size_t used = 0;
    v = std::stoull(s, &used);
    return used == s.size();
  } catch (...) {
    return false;
  }
}

bool parse_float(const std::string& s, float& v) {
  try {
    size_t used = 0;
    v = std::stof(s, &used);
    return used == s.size() && std::isfinite(v);
  } catch (...) {
    return false;
  }
}

// "A-B" with A ≤ B integers → A, A+1, …, B (at most kMaxAxisValues values).
bool expand_range(const std::string& spec, const std::string& v, std::vector<std::string>& out) {
  size_t dash = v.find('-', 1);
  uint64_t a = 0, b = 0;
  if (dash == std::string::npos || !parse_u64(v.substr(0, dash), a) || !parse_u64(v.substr(dash + 1), b)) return false;
  if (b < a) fail("--xy '{}': range {} runs backwards", spec, v);
  if (b - a >= kMaxAxisValues) fail("--xy '{}': range {} has more than {} values", spec, v, kMaxAxisValues);
  for (uint64_t x = a; x <= b; ++x) out.push_back(std::to_string(x));
  return true;
}

const char* kKinds = "lora:NAME, seed, cfg, steps, sampler, scheduler, prompt (Prompt S/R)";

}  // namespace

XYAxis parse_xy_axis(const std::string& spec) {
  XYAxis a;
  a.spec = spec;
  size_t eq = spec.find('=');
  if (eq == std::string::npos)
    fail("--xy '{}': expected AXIS=V1,V2,… with AXIS one of {} (e.g. --xy \"lora:style=0,0.5,1\" --xy \"seed=1,2\")",
         spec, kKinds);
  std::string kind = trim(spec.substr(0, eq));
  if (kind.rfind("lora:", 0) == 0) {
    a.kind = XYKind::LoraStrength;
    a.lora = trim(kind.substr(5));
    if (a.lora.empty()) fail("--xy '{}': no adapter name after 'lora:'", spec);
  } else if (kind == "seed") {
    a.kind = XYKind::Seed;
  } else if (kind == "cfg" || kind == "cfg_scale" || kind == "cfg-scale") {
    a.kind = XYKind::Cfg;
  } else if (kind == "steps") {
    a.kind = XYKind::Steps;
  } else if (kind == "sampler") {
    a.kind = XYKind::Sampler;
  } else if (kind == "scheduler") {
    a.kind = XYKind::Scheduler;
  } else if (kind == "prompt" || kind == "prompt_sr" || kind == "sr") {
    a.kind = XYKind::PromptSR;
  } else {
    fail("--xy '{}': unknown axis '{}'; axes: {}", spec, kind, kKinds);
  }
  std::vector<std::string> raw = split_values(spec, spec.substr(eq + 1));
  for (const std::string& v : raw) {
    if (v.empty() && a.kind != XYKind::PromptSR) fail("--xy '{}': an empty value", spec);
    if ((a.kind == XYKind::Seed || a.kind == XYKind::Steps) && expand_range(spec, v, a.values)) continue;
    a.values.push_back(v);
    if (a.values.size() > kMaxAxisValues) fail("--xy '{}': more than {} values", spec, kMaxAxisValues);
  }
  if (a.values.size() > kMaxAxisValues) fail("--xy '{}': more than {} values", spec, kMaxAxisValues);
  if (a.kind == XYKind::PromptSR && a.values.front().empty())
    fail("--xy '{}': the first Prompt S/R value is the text to search for and cannot be empty", spec);
  for (const std::string& v : a.values) {
    uint64_t u = 0;
    float f = 0;
    switch (a.kind) {
      case XYKind::Seed:
        if (!parse_u64(v, u)) fail("--xy '{}': seed '{}' is not a whole number 0…18446744073709551615", spec, v);
        break;
      case XYKind::Steps:
        if (!parse_u64(v, u) || u < 1 || u > 1000) fail("--xy '{}': steps '{}' is not a whole number 1…1000", spec, v);
        break;
      case XYKind::Cfg:
      case XYKind::LoraStrength:
        if (!parse_float(v, f)) fail("--xy '{}': '{}' is not a finite number", spec, v);
        break;
      default: break;
    }
  }
  return a;
}

std::string XYAxis::label(size_t i) const {
  const std::string& v = values.at(i);
  switch (kind) {
    case XYKind::LoraStrength: return std::filesystem::path(lora).stem().string() + ": " + v;
    case XYKind::Seed: return "Seed: " + v;
    case XYKind::Cfg: return "CFG scale: " + v;
    case XYKind::Steps: return "Steps: " + v;
    case XYKind::Sampler: return "Sampler: " + v;
    case XYKind::Scheduler: return "Scheduler: " + v;
    case XYKind::PromptSR: return v.empty() ? std::string("(removed)") : v;
  }
  return v;
}

bool lora_matches(const lorastack::LoraSpec& s, const std::string& name) {
  namespace fs = std::filesystem;
  return s.path == name || fs::path(s.path).stem().string() == name ||
         fs::path(s.path).stem().string() == fs::path(name).stem().string();
}

void apply_xy_value(const XYAxis& a, size_t i, lorastack::GenerateRequest& req, std::vector<lorastack::LoraSpec>& stack) {
  const std::string& v = a.values.at(i);
  switch (a.kind) {
    case XYKind::Seed: req.seed = std::stoull(v); return;
    case XYKind::Steps: req.steps = std::stoi(v); return;
    case XYKind::Cfg: req.cfg_scale = std::stof(v); return;
    case XYKind::Sampler: req.sampler = v; return;
    case XYKind::Scheduler: req.scheduler = v; return;
    case XYKind::LoraStrength: {
      bool found = false;
      for (auto& s : stack)
        if (lora_matches(s, a.lora)) {
          s.unet_strength = s.te_strength = std::stof(v);
          found = true;
        }
      if (!found)
        fail("--xy '{}': no adapter '{}' in the stack; add it with --lora {} (and --lora-dir DIR)", a.spec, a.lora, a.lora);
      return;
    }
    case XYKind::PromptSR: {
      const std::string& search = a.values.front();
      bool found = false;
      for (std::string* p : {&req.prompt, &req.negative_prompt}) {
        std::string out;
        size_t pos = 0;
        for (size_t hit; (hit = p->find(search, pos)) != std::string::npos; pos = hit + search.size()) {
          out += p->substr(pos, hit - pos) + v;
          found = true;
        }
        *p = out + p->substr(pos);
      }
      if (!found) fail("--xy '{}': '{}' is not in the prompt or the negative prompt (Prompt S/R replaces the first value)",
                       a.spec, search);
      return;
    }
  }
}

}  // namespace ls::toolbox
