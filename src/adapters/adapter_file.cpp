#include "adapters/adapter_file.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "io/hashes.h"
#include "io/weights.h"

namespace ls::adapters {

namespace {

struct Suffix {
  const char* text;
  Part part;
};

// Every suffix spelling of lora-formats.md §1, longest match wins (so ".lora_up.weight" beats ".weight").
const Suffix kSuffixes[] = {
    {".lora_up.weight", Part::Up},
    {".lora_down.weight", Part::Down},
    {".lora_mid.weight", Part::Mid},
    {".lora_B.default.weight", Part::Up},
    {".lora_A.default.weight", Part::Down},
    {".lora_B.default.bias", Part::UpBias},
    {".lora_B.weight", Part::Up},
    {".lora_A.weight", Part::Down},
    {".lora_B.bias", Part::UpBias},
    {".lora_B", Part::Up},
    {".lora_A", Part::Down},
    {".lora.up.weight", Part::Up},
    {".lora.down.weight", Part::Down},
    {"_lora.up.weight", Part::Up},
    {"_lora.down.weight", Part::Down},
    {".lora_linear_layer.up.weight", Part::Up},
    {".lora_linear_layer.down.weight", Part::Down},
    {".alpha", Part::Alpha},
    {".dora_scale", Part::DoraScale},
    {".lora_magnitude_vector", Part::Magnitude},
    {".lora_magnitude_vector.weight", Part::Magnitude},
    {".lora_magnitude_vector.default", Part::Magnitude},
    {".lora_magnitude_vector.default.weight", Part::Magnitude},
    {".hada_w1_a", Part::HadaW1A},
    {".hada_w1_b", Part::HadaW1B},
    {".hada_w2_a", Part::HadaW2A},
    {".hada_w2_b", Part::HadaW2B},
    {".hada_t1", Part::HadaT1},
    {".hada_t2", Part::HadaT2},
    {".lokr_w1", Part::LokrW1},
    {".lokr_w1_a", Part::LokrW1A},
    {".lokr_w1_b", Part::LokrW1B},
    {".lokr_w2", Part::LokrW2},
    {".lokr_w2_a", Part::LokrW2A},
    {".lokr_w2_b", Part::LokrW2B},
    {".lokr_t2", Part::LokrT2},
    {".on_input", Part::OnInput},
    {".diff", Part::Diff},
    {".diff_b", Part::DiffB},
    {".w_norm", Part::WNorm},
    {".b_norm", Part::BNorm},
    {".weight", Part::IA3},  // only accepted on kohya-style module names (see split_key)
};

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
bool contains(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }

bool kohya_style(const std::string& module) { return starts_with(module, "lora_") || starts_with(module, "lycoris_"); }

// Split "module.suffix" by the longest known suffix. Returns false when no suffix fits.
bool split_key(const std::string& key, std::string& module, Part& part) {
  size_t best = 0;
  for (const Suffix& s : kSuffixes) {
    std::string suf = s.text;
    if (suf.size() <= best || suf.size() >= key.size() || !ends_with(key, suf)) continue;
    std::string mod = key.substr(0, key.size() - suf.size());
    // A bare ".weight" is an IA3 vector only in kohya/LyCORIS-named files; elsewhere it is a model weight.
    if (s.part == Part::IA3 && !kohya_style(mod)) continue;
    best = suf.size();
    module = mod;
    part = s.part;
  }
  return best != 0;
}

// Key prefixes of full Stable Diffusion checkpoints (LDM / SGM single files).
const char* const kCheckpointPrefixes[] = {"model.diffusion_model.", "first_stage_model.", "cond_stage_model.",
                                           "conditioner.embedders."};

void check_finite(const std::string& path, const std::string& key, const Tensor& t) {
  if (!dtype_is_float(t.dtype()) && t.dtype() != DType::BOOL)
    fail("{}: tensor '{}' has dtype {}, expected a float tensor", path, key, dtype_name(t.dtype()));
  if (t.dtype() == DType::BOOL) return;
  Tensor f = t.to(DType::F32);
  const float* p = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i)
    if (!std::isfinite(p[i])) fail("{}: tensor '{}' holds {} at element {}", path, key, p[i], i);
}

float scalar_of(const Tensor& t, const std::string& path, const std::string& key) {
  LS_CHECK(t.numel() == 1, "{}: tensor '{}' has shape {}, expected a single value", path, key, shape_str(t.shape()));
  if (t.dtype() == DType::BOOL) return *static_cast<const uint8_t*>(t.raw()) ? 1.0f : 0.0f;
  return t.to(DType::F32).data<float>()[0];
}

struct Detected {
  Algo algo = Algo::LoRA;
  bool complete = true;    ///< every tensor the algorithm needs is present
  bool side_only = false;  ///< only sidecars (alpha / dora_scale / on_input): nothing to apply
  std::string why;         ///< what is missing, when !complete
};

Detected detect_algo(const ModuleTensors& m) {
  Detected d;
  auto need = [&](std::initializer_list<Part> ps) {
    for (Part p : ps)
      if (d.complete && !m.has(p)) {
        d.complete = false;
        d.why = std::string("missing ") + part_name(p);
      }
  };
  auto any = [&](std::initializer_list<Part> ps) {
    for (Part p : ps)
      if (m.has(p)) return true;
    return false;
  };
  if (any({Part::HadaW1A, Part::HadaW1B, Part::HadaW2A, Part::HadaW2B, Part::HadaT1, Part::HadaT2})) {
    d.algo = Algo::LoHa;
    need({Part::HadaW1A, Part::HadaW1B, Part::HadaW2A, Part::HadaW2B});
    if (d.complete && m.has(Part::HadaT1) != m.has(Part::HadaT2)) {
      d.complete = false;
      d.why = "hada_t1 and hada_t2 must come together";
    }
  } else if (any({Part::LokrW1, Part::LokrW1A, Part::LokrW1B, Part::LokrW2, Part::LokrW2A, Part::LokrW2B, Part::LokrT2})) {
    d.algo = Algo::LoKr;
    if (!m.has(Part::LokrW1)) need({Part::LokrW1A, Part::LokrW1B});
    if (!m.has(Part::LokrW2)) need({Part::LokrW2A, Part::LokrW2B});
  } else if (any({Part::Up, Part::Down, Part::Mid, Part::UpBias})) {
    need({Part::Up, Part::Down});
    // LoCon = a k×k (k > 1) convolution's down; 1×1 convs (SD1's proj_in / proj_out) are plain LoRA, as kohya
    // counts them (the math is the same either way)
    auto spatial = [&](const Tensor& t) { return t.ndim() == 4 && (t.dim(2) > 1 || t.dim(3) > 1); };
    d.algo = m.has(Part::Mid) ? Algo::LoRACP : m.has(Part::Down) && spatial(m.get(Part::Down)) ? Algo::LoCon : Algo::LoRA;
  } else if (m.has(Part::IA3)) {
    d.algo = Algo::IA3;
  } else if (any({Part::WNorm, Part::BNorm})) {
    d.algo = Algo::Norm;
  } else if (any({Part::Diff, Part::DiffB})) {
    d.algo = Algo::Diff;
  } else {
    d.complete = false;
    d.side_only = true;
    d.why = "only side tensors (alpha / dora_scale / on_input), no delta";
  }
  return d;
}

// PEFT rank/alpha config: {"unet.lora_alpha": 8, "unet.alpha_pattern": {...}, "unet.use_rslora": false, ...}.
void apply_peft_metadata(AdapterFile& af) {
  auto it = af.metadata.find("lora_adapter_metadata");
  if (it == af.metadata.end()) return;
  nlohmann::json j = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) fail("{}: metadata 'lora_adapter_metadata' is not a JSON object", af.path);
  for (ModuleTensors& m : af.modules) {
    if (m.has_alpha) continue;
    size_t dot = m.key.find('.');
    if (dot == std::string::npos) continue;
    std::string comp = m.key.substr(0, dot), path = m.key.substr(dot + 1);
    bool lora = m.has(Part::Up);
    const char* alpha_key = lora ? "lora_alpha" : "alpha";
    auto num = [&](const std::string& k) -> const nlohmann::json* {
      auto f = j.find(comp + "." + k);
      // A value beyond float's range is not a number here (converting it to float is undefined).
      return f != j.end() && f->is_number() && std::fabs(f->get<double>()) <= 3.0e38 ? &*f : nullptr;
    };
    const nlohmann::json* alpha = num(alpha_key);
    if (!alpha) continue;
    float a = alpha->get<float>();
    auto pat = j.find(comp + ".alpha_pattern");
    if (pat != j.end() && pat->is_object()) {
      // PEFT matches a pattern as the whole module path or a dot-separated suffix of it.
      for (auto& [p, v] : pat->items()) {
        if (!v.is_number() || !(std::fabs(v.get<double>()) <= 3.0e38)) continue;
        if (path == p || ends_with(path, "." + p)) {
          a = v.get<float>();
          break;
        }
      }
    }
    auto rs = j.find(comp + ".use_rslora");
    if (lora && rs != j.end() && rs->is_boolean() && rs->get<bool>()) {
      // PEFT rsLoRA scale = alpha / sqrt(r); store alpha·sqrt(r) so that alpha / r gives it.
      float r = static_cast<float>(m.get(Part::Down).dim(0));
      a *= std::sqrt(r);
    }
    m.has_alpha = true;
    m.alpha = a;
  }
}

std::string guess_family(const AdapterFile& af) {
  auto md = [&](const std::string& k) {
    auto it = af.metadata.find(k);
    return it == af.metadata.end() ? std::string() : it->second;
  };
  std::string v = md("ss_base_model_version");
  if (starts_with(v, "sdxl")) return "SDXL";
  if (starts_with(v, "sd_v2")) return "SD2.x";
  if (starts_with(v, "sd_v1")) return "SD1.x";
  if (starts_with(v, "flux")) return "Flux";
  std::string arch = md("modelspec.architecture");
  if (contains(arch, "stable-diffusion-xl")) return "SDXL";
  if (contains(arch, "stable-diffusion-v2")) return "SD2.x";
  if (contains(arch, "stable-diffusion-v1")) return "SD1.x";
  if (contains(arch, "flux")) return "Flux";
  for (const ModuleTensors& m : af.modules) {
    if (starts_with(m.key, "lora_te2_") || starts_with(m.key, "text_encoder_2.")) return "SDXL";
    if (contains(m.key, "double_blocks")) return "Flux";
  }
  // Cross-attention key projections see the text encoder's width: 768 SD1, 1024 SD2, 2048 SDXL.
  for (const ModuleTensors& m : af.modules) {
    if (!(contains(m.key, "attn2_to_k") || contains(m.key, "attn2.to_k")) || !m.has(Part::Down)) continue;
    const Tensor& d = m.get(Part::Down);
    if (d.ndim() < 2) continue;
    int64_t ctx = d.dim(1);
    if (ctx == 768) return "SD1.x";
    if (ctx == 1024) return "SD2.x";
    if (ctx == 2048) return "SDXL";
  }
  return "unknown";
}

}  // namespace

const char* part_name(Part p) {
  switch (p) {
    case Part::Down: return "lora_down";
    case Part::Up: return "lora_up";
    case Part::Mid: return "lora_mid";
    case Part::UpBias: return "lora_B.bias";
    case Part::Alpha: return "alpha";
    case Part::DoraScale: return "dora_scale";
    case Part::Magnitude: return "lora_magnitude_vector";
    case Part::HadaW1A: return "hada_w1_a";
    case Part::HadaW1B: return "hada_w1_b";
    case Part::HadaW2A: return "hada_w2_a";
    case Part::HadaW2B: return "hada_w2_b";
    case Part::HadaT1: return "hada_t1";
    case Part::HadaT2: return "hada_t2";
    case Part::LokrW1: return "lokr_w1";
    case Part::LokrW1A: return "lokr_w1_a";
    case Part::LokrW1B: return "lokr_w1_b";
    case Part::LokrW2: return "lokr_w2";
    case Part::LokrW2A: return "lokr_w2_a";
    case Part::LokrW2B: return "lokr_w2_b";
    case Part::LokrT2: return "lokr_t2";
    case Part::IA3: return "weight (ia3)";
    case Part::OnInput: return "on_input";
    case Part::Diff: return "diff";
    case Part::DiffB: return "diff_b";
    case Part::WNorm: return "w_norm";
    case Part::BNorm: return "b_norm";
  }
  return "?";
}

const char* algo_name(Algo a) {
  switch (a) {
    case Algo::LoRA: return "lora";
    case Algo::LoCon: return "locon";
    case Algo::LoRACP: return "lora-cp";
    case Algo::LoHa: return "loha";
    case Algo::LoKr: return "lokr";
    case Algo::IA3: return "ia3";
    case Algo::Diff: return "diff";
    case Algo::Norm: return "norm";
  }
  return "?";
}

const char* format_name(Format f) {
  switch (f) {
    case Format::Kohya: return "kohya";
    case Format::LyCORIS: return "lycoris";
    case Format::PEFT: return "diffusers-peft";
    case Format::DiffusersOld: return "diffusers-old";
    case Format::Mixed: return "mixed";
    case Format::Unknown: return "unknown";
  }
  return "?";
}

std::vector<std::string> ModuleTensors::file_keys() const {
  std::vector<std::string> out;
  for (const auto& [p, k] : keys) out.push_back(k);
  return out;
}

AdapterFile read_adapter(const std::string& path) {
  AdapterFile af = parse_adapter(io::read_checkpoint(path));
  af.short_hash = io::addnet_hash(path).substr(0, 12);
  return af;
}

AdapterFile parse_adapter(const io::TensorFile& file) {
  AdapterFile af;
  af.path = file.path;
  af.metadata = file.metadata;
  const std::string& path = file.path;

  for (const auto& [key, t] : file.tensors)
    for (const char* pre : kCheckpointPrefixes)
      if (starts_with(key, pre))
        fail("{}: this is a full model checkpoint, not an adapter (tensor '{}'); load it as a model", path, key);

  std::map<std::string, ModuleTensors> groups;
  bool kohya = false, peft = false, old = false;
  for (const auto& [key, t] : file.tensors) {
    std::string module;
    Part part = Part::Down;
    if (!split_key(key, module, part)) {
      af.unknown_keys.push_back(key);
      continue;
    }
    check_finite(path, key, t);
    ModuleTensors& m = groups[module];
    m.key = module;
    if (m.parts.count(part))
      fail("{}: tensors '{}' and '{}' both give {} of module '{}'", path, m.keys[part], key, part_name(part), module);
    m.parts[part] = t;
    m.keys[part] = key;
    if (kohya_style(module)) kohya = true;
    else if (ends_with(key, "lora.up.weight") || ends_with(key, "lora.down.weight") || contains(key, "lora_linear_layer"))
      old = true;
    else
      peft = true;
  }

  bool lycoris = false;
  for (auto& [name, m] : groups) {
    Detected d = detect_algo(m);
    m.algo = d.algo;
    if (d.side_only) {  // a stray alpha / dora_scale: reported as unused, not an error
      for (const auto& k : m.file_keys()) af.unknown_keys.push_back(k);
      continue;
    }
    if (!d.complete) fail("{}: module '{}' ({}) is incomplete: {}", path, name, algo_name(m.algo), d.why);
    m.dora = m.has(Part::DoraScale) || m.has(Part::Magnitude);
    if (m.has(Part::Alpha)) {
      m.has_alpha = true;
      m.alpha = scalar_of(m.get(Part::Alpha), path, m.keys[Part::Alpha]);
    }
    if (m.algo == Algo::LoHa || m.algo == Algo::LoKr || m.algo == Algo::IA3 || m.algo == Algo::Diff ||
        m.algo == Algo::Norm || m.has(Part::DoraScale))
      lycoris = lycoris || kohya_style(name);
    af.modules.push_back(std::move(m));
  }
  std::sort(af.unknown_keys.begin(), af.unknown_keys.end());

  if (af.modules.empty()) {
    size_t weights = 0;
    for (const auto& [key, t] : file.tensors)
      if (ends_with(key, ".weight") || ends_with(key, ".bias")) ++weights;
    if (weights > 0 && weights * 2 >= file.tensors.size())
      fail("{}: no adapter tensors; {} plain weights such as '{}' look like a full model, not a LoRA", path, weights,
           af.unknown_keys.front());
    fail("{}: no adapter tensors (no lora_up/lora_down, lora_A/lora_B, hada_*, lokr_*, diff, ... keys){}", path,
         af.unknown_keys.empty() ? std::string(" — the file is empty") : ", first key '" + af.unknown_keys.front() + "'");
  }

  auto it = af.metadata.find("ss_network_module");
  if (it != af.metadata.end() && contains(it->second, "lycoris")) lycoris = lycoris || kohya;
  int kinds = int(kohya) + int(peft) + int(old);
  if (kinds > 1) af.format = Format::Mixed;
  else if (kohya) af.format = lycoris ? Format::LyCORIS : Format::Kohya;
  else if (peft) af.format = Format::PEFT;
  else if (old) af.format = Format::DiffusersOld;

  apply_peft_metadata(af);
  af.family_guess = guess_family(af);
  return af;
}

}  // namespace ls::adapters
