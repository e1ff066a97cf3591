// Sampler and schedule names as clients spell them. A1111 names a sampler by its display name ("Euler a",
// "DPM++ 2M") and, before v1.9, put the schedule in the name ("DPM++ 2M Karras"); since v1.9 a separate
// "scheduler" field ("Automatic", "Karras"). lorastack names them "euler_a", "dpm++2m" + "karras"
// (src/sampling/sampler.h). Everything here maps onto ls::sampling::sampler_names() / scheduler_names().
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ls::server {

/// A sampler and schedule in lorastack's names ("dpm++2m", "karras").
struct SamplerChoice {
  std::string sampler = "euler";
  std::string scheduler = "normal";
};

/// Parse `name` (A1111 display name with optional " Karras", old "k_…" alias, or lorastack's name; case and
/// spacing ignored) and `scheduler` ("" = the one the name implies, else "normal"; A1111 "Automatic" = normal;
/// any lorastack scheduler name). The pair is checked against the sampling module (ddim + karras is refused).
/// Throws ApiError 422 naming `field` / `scheduler_field` and listing the valid names.
SamplerChoice parse_sampler(const std::string& name, const std::string& scheduler, const std::string& field,
                            const std::string& scheduler_field);

/// A1111's display name of a choice: "Euler a", "DPM++ 2M Karras".
std::string a1111_name(const SamplerChoice& c);

/// GET /sdapi/v1/samplers: [{"name", "aliases", "options"}], one entry per sampler and per sampler + Karras.
nlohmann::json a1111_samplers();
/// GET /sdapi/v1/schedulers: [{"name", "label", "aliases"}].
nlohmann::json a1111_schedulers();

}  // namespace ls::server
