#include "server/samplers.h"

#include <algorithm>
#include <cctype>

#include "models/sd1/config.h"
#include "pipeline/parameters.h"
#include "runtime/error.h"
#include "sampling/sampler.h"
#include "server/api_error.h"

namespace ls::server {

namespace {

/// Lower case without spaces, '_' and '-'; "dpmpp" → "dpm++"; a leading "k" of the old A1111 k-diffusion
/// aliases ("k_euler_a") removed.
std::string normalize(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (!std::isspace(c) && c != '_' && c != '-') out += static_cast<char>(std::tolower(c));
  if (out.rfind("dpmpp", 0) == 0) out = "dpm++" + out.substr(5);
  if (s.rfind("k_", 0) == 0 || s.rfind("K_", 0) == 0) {
    out = out.substr(1);
    if (out.rfind("dpmpp", 0) == 0) out = "dpm++" + out.substr(5);
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool karras_ok(const std::string& sampler) {
  ls::sampling::SamplerSpec spec;
  spec.sampler = sampler;
  spec.scheduler = "karras";
  spec.steps = 2;
  try {
    ls::sampling::make_schedule(spec, ls::sd::SchedulerConfig{});
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string valid_sampler_list() {
  std::vector<std::string> names;
  for (const auto& s : ls::sampling::sampler_names()) {
    names.push_back(fmt::format("\"{}\"", lorastack::a1111_sampler_name(s)));
    if (karras_ok(s)) names.push_back(fmt::format("\"{} Karras\"", lorastack::a1111_sampler_name(s)));
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

SamplerChoice parse_sampler(const std::string& name, const std::string& scheduler, const std::string& field,
                            const std::string& scheduler_field) {
  SamplerChoice c;
  std::string n = normalize(name);
  std::string implied;
  if (ends_with(n, "karras") && n.size() > 6) {
    n = n.substr(0, n.size() - 6);
    implied = "karras";
  }
  bool found = n.empty();  // "" = the default sampler
  for (const auto& s : ls::sampling::sampler_names()) {
    if (n == normalize(s) || n == normalize(lorastack::a1111_sampler_name(s))) {
      c.sampler = s;
      found = true;
      break;
    }
  }
  if (!found)
    api_fail(422, field, "{} '{}': unknown sampler (valid: {}; or lorastack's {})", field, name, valid_sampler_list(),
             fmt::join(ls::sampling::sampler_names(), ", "));
  std::string sch = normalize(scheduler);
  if (sch.empty() || sch == "automatic" || sch == "auto" || sch == "default") {
    c.scheduler = implied.empty() ? "normal" : implied;
  } else if (sch == "uniform") {
    c.scheduler = "normal";
  } else {
    const auto& names = ls::sampling::scheduler_names();
    if (std::find(names.begin(), names.end(), sch) == names.end())
      api_fail(422, scheduler_field, "{} '{}': unknown schedule (valid: Automatic, Karras, {})", scheduler_field,
               scheduler, fmt::join(names, ", "));
    if (!implied.empty() && sch != implied)
      api_fail(422, scheduler_field, "{} '{}' contradicts sampler '{}'", scheduler_field, scheduler, name);
    c.scheduler = sch;
  }
  ls::sampling::SamplerSpec spec;
  spec.sampler = c.sampler;
  spec.scheduler = c.scheduler;
  spec.steps = 2;
  try {
    ls::sampling::make_schedule(spec, ls::sd::SchedulerConfig{});
  } catch (const std::exception& e) {
    api_fail(422, scheduler.empty() ? field : scheduler_field, "sampler '{}' with schedule '{}': {}", name,
             c.scheduler, e.what());
  }
  return c;
}

std::string a1111_name(const SamplerChoice& c) {
  std::string n = lorastack::a1111_sampler_name(c.sampler);
  if (c.scheduler == "karras") n += " Karras";
  return n;
}

nlohmann::json a1111_samplers() {
  auto out = nlohmann::json::array();
  for (const auto& s : ls::sampling::sampler_names()) {
    const std::string name = lorastack::a1111_sampler_name(s);
    bool listed = false;  // several lorastack names with one display name (uni_pc, uni_pc_bh2): one entry
    for (auto& e : out)
      if (e["name"] == name) {
        e["aliases"].push_back(s);
        listed = true;
      }
    if (listed) continue;
    out.push_back({{"name", name}, {"aliases", {s}}, {"options", nlohmann::json::object()}});
    if (karras_ok(s))
      out.push_back({{"name", name + " Karras"},
                     {"aliases", {s + "_karras"}},
                     {"options", {{"scheduler", "karras"}}}});
  }
  return out;
}

nlohmann::json a1111_schedulers() {
  auto out = nlohmann::json::array();
  out.push_back({{"name", "automatic"}, {"label", "Automatic"}, {"aliases", {"normal"}}});
  for (const auto& s : ls::sampling::scheduler_names()) {
    if (s == "normal") continue;
    std::string label = s;
    label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[0])));
    out.push_back({{"name", s}, {"label", label}, {"aliases", nlohmann::json::array()}});
  }
  return out;
}

}  // namespace ls::server
