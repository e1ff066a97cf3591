#include "server/request_parse.h"

#include <random>
#include <regex>

#include "adapters/block_weights.h"
#include "pipeline/limits.h"
#include "pipeline/parameters.h"
#include "runtime/error.h"
#include "server/api_error.h"
#include "server/base64.h"
#include "server/json_fields.h"
#include "server/samplers.h"

namespace ls::server {

namespace {

constexpr size_t kMaxPrompt = lorastack::limits::kMaxPromptBytes;
constexpr size_t kMaxName = 1024;

/// Fields every API shares, read with their own names per API.
struct Common {
  std::vector<JobLora> tags;      ///< from the prompt
  std::vector<JobLora> explicit_; ///< from a "loras" list
};

std::string tag_for(const JobLora& l) {
  return lorastack::a1111_lora_tag(l.name, l.strength, l.te_strength, l.block_weights);
}

void check_strength(float v, const std::string& field, const std::string& what) {
  if (!std::isfinite(v) || std::fabs(v) > kMaxStrength)
    api_fail(422, field, "{} {}: strength {} must be within ±{}", field, what, v, kMaxStrength);
}

/// <lora:…> tags of the prompt, resolved in the LoRA folder.
std::vector<JobLora> prompt_tags(const std::string& prompt, const std::string& field, ParseContext& ctx) {
  std::string copy = prompt;
  std::vector<lorastack::LoraSpec> specs;
  try {
    specs = lorastack::extract_lora_tags(copy);
  } catch (const std::exception& e) {
    api_fail(422, field, "{}: {}", field, e.what());
  }
  std::vector<JobLora> out;
  for (const auto& s : specs) {
    auto e = ctx.loras.resolve(s.path, field);
    check_strength(s.unet_strength, field, "<lora:" + s.path + ">");
    check_strength(s.te_strength, field, "<lora:" + s.path + ">");
    out.push_back({e.name, e.rel_path, e.path, s.unet_strength, s.te_strength, s.block_weights});
  }
  return out;
}

/// A "loras" list: [{name | path, strength, te_strength}] (also "weight" for strength).
std::vector<JobLora> lora_list(FieldReader& f, const std::string& key, ParseContext& ctx) {
  std::vector<JobLora> out;
  const auto* v = f.raw(key);
  if (!v) return out;
  if (!v->is_array()) api_fail(400, f.name(key), "{}: expected an array of {{name, strength, te_strength}}", f.name(key));
  if (v->size() > static_cast<size_t>(kMaxLoras))
    api_fail(422, f.name(key), "{}: {} adapters, more than the limit of {}", f.name(key), v->size(), kMaxLoras);
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& item = (*v)[i];
    const std::string prefix = fmt::format("{}[{}]", f.name(key), i);
    JobLora l;
    std::optional<std::string> name;
    std::string field;
    if (item.is_string()) {  // "name" alone: strength 1
      name = item.get<std::string>();
      field = prefix;
    } else if (item.is_object()) {
      FieldReader lf(item, prefix + ".");
      auto n = lf.str("name", kMaxName);
      auto p = lf.str("path", kMaxName);
      if (n && p) api_fail(422, prefix, "{}: give either name or path, not both", prefix);
      if (!n && !p) api_fail(422, prefix + ".name", "{}: missing name (or path)", prefix);
      name = n ? n : p;
      field = lf.name(n ? "name" : "path");
      auto s = lf.number("strength", -kMaxStrength, kMaxStrength);
      if (!s) s = lf.number("weight", -kMaxStrength, kMaxStrength);
      l.strength = static_cast<float>(s.value_or(1.0));
      l.te_strength = static_cast<float>(lf.number("te_strength", -kMaxStrength, kMaxStrength).value_or(l.strength));
      if (auto bw = lf.str("block_weights", 1024)) {
        try {
          ls::adapters::parse_block_weights(*bw);
        } catch (const std::exception& e) {
          api_fail(422, lf.name("block_weights"), "{}: {}", lf.name("block_weights"), e.what());
        }
        l.block_weights = *bw;
      }
      lf.reject_unknown();
    } else {
      api_fail(400, prefix, "{}: expected an object {{name, strength, te_strength}}", prefix);
    }
    auto e = ctx.loras.resolve(*name, field);
    l.name = e.name;
    l.rel_path = e.rel_path;
    l.path = e.path;
    out.push_back(std::move(l));
  }
  return out;
}

int read_side(FieldReader& f, const std::string& key, int fallback, int multiple) {
  const auto* v = f.raw(key);
  if (!v) return fallback;
  // re-read through integer() for the type check, with a wide range, then say what is wrong precisely
  const nlohmann::json wrapped{{key, *v}};
  FieldReader one(wrapped);
  int64_t x = *one.integer(key, INT32_MIN, INT32_MAX);
  if (x < multiple || x > kMaxSide || x % multiple != 0)
    api_fail(422, f.name(key), "{} {}: must be a multiple of {} for this model, in {}..{}", f.name(key), x, multiple,
             multiple, kMaxSide);
  return static_cast<int>(x);
}

/// A float as the shortest decimal that reads back to it (0.7f → 0.7, not 0.699999988079071).
double clean(float v) { return std::stod(fmt::format("{}", v)); }

uint64_t random_seed() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return rng();  // 0..2^32−1, the range A1111 draws from
}

/// Tags, stack limit, prompt with the stack's tags appended, final Engine-side check, parameters echo.
void finalize(JobSpec& spec, Common& c, ParseContext& ctx) {
  spec.loras = c.tags;
  spec.loras.insert(spec.loras.end(), c.explicit_.begin(), c.explicit_.end());
  if (spec.loras.size() > static_cast<size_t>(kMaxLoras))
    api_fail(422, "loras", "{} adapters in the stack (prompt tags and the loras list), more than the limit of {}",
             spec.loras.size(), kMaxLoras);
  auto& req = spec.request;
  for (const auto& l : c.explicit_) {
    std::string tag = tag_for(l);
    if (!tag.empty()) req.prompt += (req.prompt.empty() ? "" : " ") + tag;
  }
  if (spec.images() > kMaxImagesPerJob)
    api_fail(422, "batch_size", "batch_size {} × n_iter {} = {} images, more than the limit of {} per job",
             req.batch_size, spec.n_iter, spec.images(), kMaxImagesPerJob);
  try {
    lorastack::limits::check_request(req, ctx.size_multiple);
  } catch (const std::exception& e) {
    api_fail(422, "", "{}", e.what());
  }
  auto loras = nlohmann::json::array();
  for (const auto& l : spec.loras)
    loras.push_back({{"name", l.name},
                     {"path", l.rel_path},
                     {"strength", clean(l.strength)},
                     {"te_strength", clean(l.te_strength)},
                     {"block_weights", l.block_weights}});
  spec.parameters = {{"prompt", req.prompt},
                     {"negative_prompt", req.negative_prompt},
                     {"steps", req.steps},
                     {"cfg_scale", clean(req.cfg_scale)},
                     {"sampler", req.sampler},
                     {"scheduler", req.scheduler},
                     {"sampler_name", a1111_name({req.sampler, req.scheduler})},
                     {"seed", req.seed},
                     {"width", req.width},
                     {"height", req.height},
                     {"batch_size", req.batch_size},
                     {"n_iter", spec.n_iter},
                     {"clip_skip", req.clip_skip},
                     {"rng", req.rng},
                     {"loras", loras}};
  if (!spec.init_image_bytes.empty()) {
    spec.parameters["img2img"] = true;
    spec.parameters["strength"] = clean(req.strength);
    spec.parameters["mask"] = !spec.mask_bytes.empty();
  }
}

/// A base64 image field (PNG, JPEG or WebP, also as a data: URL) → its bytes; "" when absent.
std::string read_image(FieldReader& f, const std::string& key, const nlohmann::json* value = nullptr,
                       const std::string& field_name = "") {
  const std::string name = field_name.empty() ? f.name(key) : field_name;
  const nlohmann::json* v = value ? value : f.raw(key);
  if (!v) return "";
  if (!v->is_string()) api_fail(400, name, "{}: expected a base64 image (PNG, JPEG or WebP)", name);
  std::string bytes = base64_decode(v->get_ref<const std::string&>(), name);
  const bool png = bytes.size() > 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0;
  const bool jpeg = bytes.size() > 3 && static_cast<unsigned char>(bytes[0]) == 0xff &&
                    static_cast<unsigned char>(bytes[1]) == 0xd8 && static_cast<unsigned char>(bytes[2]) == 0xff;
  const bool webp = bytes.size() > 12 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WEBP") == 0;
  if (!png && !jpeg && !webp)
    api_fail(422, name, "{}: {} bytes that are not a PNG, JPEG or WebP image", name, bytes.size());
  return bytes;
}

/// The noise generator: lorastack's names, or A1111's randn_source ("CPU", "GPU").
std::string read_rng(FieldReader& f, const std::string& key, const std::string& fallback) {
  auto v = f.str(key, 32);
  if (!v) return fallback;
  if (*v == "cpu" || *v == "CPU") return "cpu";
  if (*v == "cuda" || *v == "GPU") return "cuda";
  if (*v == "cpu-scalar") return "cpu-scalar";
  api_fail(422, f.name(key), "{} '{}': expected cpu, cuda or cpu-scalar (A1111: CPU or GPU)", f.name(key), *v);
}

void read_seed(FieldReader& f, const std::string& key, JobSpec& spec) {
  bool random = false;
  auto s = f.seed(key, random);
  spec.random_seed = random || !s;
  spec.request.seed = s ? *s : random_seed();
}

}  // namespace

JobSpec parse_native(const nlohmann::json& body, ParseContext& ctx) {
  JobSpec spec;
  spec.api = "native";
  auto& req = spec.request;
  FieldReader f(body);
  Common c;
  req.prompt = f.str("prompt", kMaxPrompt).value_or("");
  req.negative_prompt = f.str("negative_prompt", kMaxPrompt).value_or("");
  req.steps = static_cast<int>(f.integer("steps", 1, kMaxSteps).value_or(20));
  req.cfg_scale = static_cast<float>(f.number("cfg_scale", 0, kMaxCfg).value_or(7.5));
  auto sampler = f.str("sampler", 64).value_or("euler");
  auto scheduler = f.str("scheduler", 64).value_or("");
  auto choice = parse_sampler(sampler, scheduler, "sampler", "scheduler");
  req.sampler = choice.sampler;
  req.scheduler = choice.scheduler;
  read_seed(f, "seed", spec);
  req.width = read_side(f, "width", 512, ctx.size_multiple);
  req.height = read_side(f, "height", 512, ctx.size_multiple);
  req.batch_size = static_cast<int>(f.integer("batch_size", 1, kMaxBatch).value_or(1));
  spec.n_iter = static_cast<int>(f.integer("n_iter", 1, kMaxIter).value_or(1));
  req.clip_skip = static_cast<int>(f.integer("clip_skip", 1, 12).value_or(1));
  req.rng = read_rng(f, "rng", "cpu");
  spec.init_image_bytes = read_image(f, "init_image");
  spec.mask_bytes = read_image(f, "mask");
  req.strength = static_cast<float>(f.number("strength", 0, 1).value_or(0.75));
  if (!spec.mask_bytes.empty() && spec.init_image_bytes.empty())
    api_fail(422, "mask", "mask: needs an init_image");
  c.explicit_ = lora_list(f, "loras", ctx);
  f.reject_unknown();
  c.tags = prompt_tags(req.prompt, "prompt", ctx);
  finalize(spec, c, ctx);
  return spec;
}

JobSpec parse_a1111(const nlohmann::json& body, ParseContext& ctx, bool img2img) {
  JobSpec spec;
  spec.api = "a1111";
  auto& req = spec.request;
  req.rng = "cuda";  // A1111's default randn_source "GPU": image b of a batch gets seed + b
  FieldReader f(body);
  Common c;
  req.prompt = f.str("prompt", kMaxPrompt).value_or("");
  req.negative_prompt = f.str("negative_prompt", kMaxPrompt).value_or("");
  req.steps = static_cast<int>(f.integer("steps", 1, kMaxSteps).value_or(20));
  req.cfg_scale = static_cast<float>(f.number("cfg_scale", 0, kMaxCfg).value_or(7.0));
  std::string sampler_field = "sampler_name";
  auto sampler = f.str("sampler_name", 64);
  if (!sampler) {
    sampler = f.str("sampler_index", 64);
    if (sampler) sampler_field = "sampler_index";
  }
  auto scheduler = f.str("scheduler", 64).value_or("");
  auto choice = parse_sampler(sampler.value_or("Euler a"), scheduler, sampler_field, "scheduler");
  req.sampler = choice.sampler;
  req.scheduler = choice.scheduler;
  read_seed(f, "seed", spec);
  req.width = read_side(f, "width", 512, ctx.size_multiple);
  req.height = read_side(f, "height", 512, ctx.size_multiple);
  req.batch_size = static_cast<int>(f.integer("batch_size", 1, kMaxBatch).value_or(1));
  spec.n_iter = static_cast<int>(f.integer("n_iter", 1, kMaxIter).value_or(1));
  if (const auto* o = f.raw("override_settings")) {
    if (!o->is_object()) api_fail(400, "override_settings", "override_settings: expected an object");
    FieldReader of(*o, "override_settings.");
    req.clip_skip = static_cast<int>(of.integer("CLIP_stop_at_last_layers", 1, 12).value_or(1));
    req.rng = read_rng(of, "randn_source", req.rng);
  }
  if (img2img) {
    const auto* images = f.raw("init_images");
    if (!images || !images->is_array() || images->empty())
      api_fail(422, "init_images", "init_images: expected an array holding one base64 image");
    if (images->size() > 1)
      api_fail(422, "init_images", "init_images: {} images; this server takes one", images->size());
    spec.init_image_bytes = read_image(f, "init_images", &(*images)[0], "init_images[0]");
    spec.mask_bytes = read_image(f, "mask");
    req.strength = static_cast<float>(f.number("denoising_strength", 0, 1).value_or(0.75));
  }
  for (const char* flag : {"enable_hr", "restore_faces", "tiling"})
    if (f.boolean(flag).value_or(false))
      api_fail(422, flag, "{}: not supported by this server (send false or leave it out)", flag);
  if (f.number("subseed_strength", 0, 1).value_or(0) > 0)
    api_fail(422, "subseed_strength", "subseed_strength: variation seeds are not supported (send 0)");
  if (auto s = f.str("script_name", 256); s && !s->empty())
    api_fail(422, "script_name", "script_name '{}': scripts are not supported", *s);
  f.boolean("send_images");
  f.boolean("save_images");
  c.tags = prompt_tags(req.prompt, "prompt", ctx);
  finalize(spec, c, ctx);
  return spec;
}

JobSpec parse_openai(const nlohmann::json& body, ParseContext& ctx, std::string& response_format) {
  JobSpec spec;
  spec.api = "openai";
  auto& req = spec.request;
  FieldReader f(body);
  Common c;
  auto prompt = f.str("prompt", kMaxPrompt);
  if (!prompt) api_fail(400, "prompt", "Missing required parameter: 'prompt'");
  req.prompt = *prompt;
  req.batch_size = static_cast<int>(f.integer("n", 1, kMaxBatch).value_or(1));
  std::string size = f.str("size", 32).value_or("512x512");
  if (size == "auto") size = "512x512";
  static const std::regex size_re("^([0-9]{1,5})x([0-9]{1,5})$");
  std::smatch m;
  if (!std::regex_match(size, m, size_re))
    api_fail(422, "size", "size '{}': expected WIDTHxHEIGHT, e.g. 512x512", size);
  for (const char* k : {"width", "height"}) {
    int v = std::stoi(m[k[0] == 'w' ? 1 : 2]);
    if (v < ctx.size_multiple || v > kMaxSide || v % ctx.size_multiple != 0)
      api_fail(422, "size", "size '{}': {} {} must be a multiple of {} for this model, in {}..{}", size, k, v,
               ctx.size_multiple, ctx.size_multiple, kMaxSide);
  }
  req.width = std::stoi(m[1]);
  req.height = std::stoi(m[2]);
  response_format = f.str("response_format", 32).value_or("url");
  if (response_format != "url" && response_format != "b64_json")
    api_fail(422, "response_format", "response_format '{}': expected b64_json or url", response_format);
  if (auto of = f.str("output_format", 16); of && *of != "png")
    api_fail(422, "output_format", "output_format '{}': only png is supported", *of);
  if (f.boolean("stream").value_or(false)) api_fail(422, "stream", "stream: streaming is not supported");
  // extensions
  req.negative_prompt = f.str("negative_prompt", kMaxPrompt).value_or("");
  req.steps = static_cast<int>(f.integer("steps", 1, kMaxSteps).value_or(20));
  req.cfg_scale = static_cast<float>(f.number("cfg_scale", 0, kMaxCfg).value_or(7.5));
  auto choice = parse_sampler(f.str("sampler", 64).value_or("euler"), f.str("scheduler", 64).value_or(""), "sampler",
                              "scheduler");
  req.sampler = choice.sampler;
  req.scheduler = choice.scheduler;
  read_seed(f, "seed", spec);
  req.clip_skip = static_cast<int>(f.integer("clip_skip", 1, 12).value_or(1));
  c.explicit_ = lora_list(f, "loras", ctx);
  c.tags = prompt_tags(req.prompt, "prompt", ctx);
  finalize(spec, c, ctx);
  return spec;
}

}  // namespace ls::server
