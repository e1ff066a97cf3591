#include "pipeline/parameters.h"

#include <fmt/format.h>

namespace lorastack {

std::string a1111_sampler_name(const std::string& s) {
  if (s == "euler") return "Euler";
  if (s == "euler_a") return "Euler a";
  if (s == "dpm++2m") return "DPM++ 2M";
  if (s == "ddim") return "DDIM";
  return s;
}

std::string format_parameters(const GenerateRequest& req, int64_t batch, const ParametersInfo& info) {
  std::string out = req.prompt;
  if (!req.negative_prompt.empty()) out += "\nNegative prompt: " + req.negative_prompt;
  out += fmt::format("\nSteps: {}, Sampler: {}", req.steps, a1111_sampler_name(req.sampler));
  if (req.scheduler == "karras") out += ", Schedule type: Karras";
  out += fmt::format(", CFG scale: {}, Seed: {}, Size: {}x{}", req.cfg_scale, req.seed, req.width, req.height);
  if (!info.model_name.empty()) out += ", Model: " + info.model_name;
  if (batch > 1) out += fmt::format(", Batch size: {}", batch);
  if (req.clip_skip > 1) out += fmt::format(", Clip skip: {}", req.clip_skip);
  if (!info.loras.empty()) {
    out += ", Lora hashes: \"";
    for (size_t i = 0; i < info.loras.size(); ++i)
      out += (i ? ", " : "") + info.loras[i].name + ": " + info.loras[i].short_hash;
    out += "\"";
  }
  out += ", Version: lorastack 0.1.0";
  return out;
}

}  // namespace lorastack
