#include "pipeline/parameters.h"

#include <filesystem>

#include <fmt/format.h>

#include "io/hashes.h"

namespace lorastack {

std::string a1111_sampler_name(const std::string& s) {
  if (s == "euler") return "Euler";
  if (s == "euler_a") return "Euler a";
  if (s == "dpm++2m") return "DPM++ 2M";
  if (s == "ddim") return "DDIM";
  if (s == "heun") return "Heun";
  if (s == "dpm2") return "DPM2";
  if (s == "dpm2_a") return "DPM2 a";
  if (s == "dpm++2s_a") return "DPM++ 2S a";
  if (s == "dpm++2m_sde") return "DPM++ 2M SDE";
  if (s == "dpm++3m_sde") return "DPM++ 3M SDE";
  if (s == "lms") return "LMS";
  if (s == "lcm") return "LCM";
  if (s == "uni_pc" || s == "uni_pc_bh2" || s == "uni_pc_bh1") return "UniPC";
  return s;
}

namespace {
// json.dumps(text, ensure_ascii=False): quotes, backslashes and control characters escaped.
std::string json_quote(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) o += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else o += c;
    }
  }
  return o + "\"";
}
}  // namespace

std::string format_parameters(const GenerateRequest& req, int64_t batch, const ParametersInfo& info) {
  std::string out = req.prompt;
  if (!req.negative_prompt.empty()) out += "\nNegative prompt: " + req.negative_prompt;
  out += fmt::format("\nSteps: {}, Sampler: {}", req.steps, a1111_sampler_name(req.sampler));
  if (req.scheduler == "karras") out += ", Schedule type: Karras";
  else if (req.scheduler == "exponential") out += ", Schedule type: Exponential";
  else if (req.scheduler == "sgm_uniform") out += ", Schedule type: SGM Uniform";
  else if (req.scheduler == "simple") out += ", Schedule type: Simple";
  else if (req.scheduler == "ddim_uniform") out += ", Schedule type: DDIM";
  else if (req.scheduler == "beta") out += ", Schedule type: Beta";
  out += fmt::format(", CFG scale: {}, Seed: {}, Size: {}x{}", req.cfg_scale, req.seed, req.width, req.height);
  // A1111 order: Size, Model hash, Model, Batch size, Denoising strength, Clip skip
  if (!info.model_hash.empty()) out += ", Model hash: " + info.model_hash;
  if (!info.model_name.empty()) out += ", Model: " + info.model_name;
  if (batch > 1) out += fmt::format(", Batch size: {}", batch);
  if (!req.init_image.empty()) out += fmt::format(", Denoising strength: {}", req.strength);
  if (req.clip_skip > 1) out += fmt::format(", Clip skip: {}", req.clip_skip);
  if (!info.loras.empty()) {
    std::string v;
    for (size_t i = 0; i < info.loras.size(); ++i) {
      std::string alias;
      for (char c : info.loras[i].name)
        if (c != ':' && c != ',') alias += c;
      v += (i ? ", " : "") + alias + ": " + info.loras[i].short_hash;
    }
    out += ", Lora hashes: " + json_quote(v);
  }
  out += ", Version: lorastack " + version();
  return out;
}

std::string version() {
#ifdef LORASTACK_VERSION
  return LORASTACK_VERSION;
#else
  return "unknown";
#endif
}

std::string checkpoint_sha256(const std::string& model_path) {
  std::error_code ec;
  if (std::filesystem::is_directory(model_path, ec)) return "";
  return ls::io::sha256_file(model_path);
}

std::string a1111_model_hash(const std::string& model_path) { return checkpoint_sha256(model_path).substr(0, 10); }

std::string with_model_hash(const std::string& text, const std::string& hash) {
  if (hash.empty()) return text;
  const size_t line = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  std::string settings = text.substr(line);
  auto field_at = [&](const std::string& key) {  // "Key: " at the line's start or after ", "
    for (size_t at = 0; (at = settings.find(key, at)) != std::string::npos; at += key.size())
      if (at == 0 || settings.compare(at - 2, 2, ", ") == 0) return at;
    return std::string::npos;
  };
  if (field_at("Model hash: ") != std::string::npos) return text;
  if (size_t at = field_at("Model: "); at != std::string::npos) {
    settings.insert(at, "Model hash: " + hash + ", ");
  } else if (size_t size = field_at("Size: "); size != std::string::npos) {
    size_t end = settings.find(", ", size);
    settings.insert(end == std::string::npos ? settings.size() : end, ", Model hash: " + hash);
  } else {
    return text;
  }
  return text.substr(0, line) + settings;
}

std::string a1111_lora_tag(const std::string& name, float unet_strength, float te_strength,
                           const std::string& block_weights) {
  if (name.empty() || name.find_first_of(":<>") != std::string::npos) return "";
  const std::string lbw = block_weights.empty() ? "" : ":lbw=" + block_weights;
  if (unet_strength == te_strength) return fmt::format("<lora:{}:{}{}>", name, unet_strength, lbw);
  return fmt::format("<lora:{}:{}:{}{}>", name, te_strength, unet_strength, lbw);
}

}  // namespace lorastack

namespace lorastack {

std::string image_parameters(const std::string& text, uint64_t seed, int64_t pos, int64_t batch) {
  const size_t line = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
  std::string head = text.substr(0, line), settings = text.substr(line);
  // "Seed: N" as a field of the settings line: at its start or after ", "
  for (size_t at = 0; (at = settings.find("Seed: ", at)) != std::string::npos; at += 6) {
    if (at != 0 && settings.compare(at - 2, 2, ", ") != 0) continue;
    size_t end = settings.find_first_not_of("0123456789", at + 6);
    if (end == std::string::npos) end = settings.size();
    settings = settings.substr(0, at + 6) + std::to_string(seed) + settings.substr(end);
    break;
  }
  if (batch > 1) {
    const std::string key = fmt::format("Batch size: {}", batch);
    if (size_t at = settings.find(key); at != std::string::npos)
      settings.insert(at + key.size(), fmt::format(", Batch pos: {}", pos));
  }
  return head + settings;
}

}  // namespace lorastack
