#include "toolbox/scan.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "io/safetensors.h"
#include "io/weights.h"
#include "models/sd1/config.h"
#include "models/sd1/loader.h"

namespace fs = std::filesystem;

namespace ls::toolbox {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
bool contains(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }

std::string lower_ext(const fs::path& p) {
  std::string e = p.extension().string();
  for (char& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

bool is_candidate(const fs::path& p) {
  std::string e = lower_ext(p);
  return e == ".safetensors" || e == ".ckpt" || e == ".pt" || e == ".pth" || e == ".bin";
}

struct SuffixAlgo {
  const char* suffix;
  const char* algo;  // nullptr: a side tensor (counted only for DoRA)
};
// One marker tensor per module (lora-formats.md §1–2); the first match wins.
const SuffixAlgo kMarkers[] = {
    {".hada_w1_a", "loha"},         {".lokr_w1", "lokr"},          {".lokr_w1_a", "lokr"},
    {".lora_mid.weight", nullptr},  {".lora_down.weight", "lora"}, {".lora_A.weight", "lora"},
    {".lora_A.default.weight", "lora"}, {".lora.down.weight", "lora"}, {"_lora.down.weight", "lora"},
    {".lora_linear_layer.down.weight", "lora"}, {".lora_A", "lora"}, {".diff", "diff"}, {".w_norm", "norm"},
    {".dora_scale", nullptr},       {".lora_magnitude_vector", nullptr},
};

// Adapter classification from names and shapes only (no tensor data is read).
bool classify_adapter(const io::TensorFile& tf, FoundModel& f) {
  std::map<std::string, int> algos;
  bool kohya = false, peft = false, old = false, lycoris = false, te2 = false, flux = false;
  int64_t ctx = 0;
  for (const auto& [k, t] : tf.tensors) {
    for (const SuffixAlgo& s : kMarkers) {
      if (!ends_with(k, s.suffix)) continue;
      std::string mod = k.substr(0, k.size() - std::string(s.suffix).size());
      if (!s.algo) {
        if (contains(s.suffix, "mid")) algos["lora-cp"]++, algos["lora"]--;
        else algos["dora"]++;
      } else {
        std::string a = s.algo;
        if (a == "lora" && t.ndim() == 4) a = "locon";
        algos[a]++;
        if (a != "lora" && a != "locon") lycoris = true;
      }
      if (starts_with(mod, "lora_") || starts_with(mod, "lycoris_")) kohya = true;
      else if (contains(k, "lora.down") || contains(k, "lora_linear_layer")) old = true;
      else peft = true;
      if (starts_with(mod, "lora_te2_") || starts_with(mod, "text_encoder_2.")) te2 = true;
      if (contains(mod, "double_blocks")) flux = true;
      if ((contains(mod, "attn2_to_k") || contains(mod, "attn2.to_k")) && s.algo && t.ndim() == 2 && ctx == 0)
        ctx = t.dim(1);
      break;
    }
  }
  for (auto it = algos.begin(); it != algos.end();) it = it->second <= 0 ? algos.erase(it) : std::next(it);
  if (algos.empty()) return false;
  f.kind = "adapter";
  auto md = [&](const std::string& k) {
    auto it = tf.metadata.find(k);
    return it == tf.metadata.end() ? std::string() : it->second;
  };
  if (contains(md("ss_network_module"), "lycoris") || algos.count("dora")) lycoris = lycoris || kohya;
  int kinds = int(kohya) + int(peft) + int(old);
  f.layout = kinds > 1 ? "mixed" : kohya ? (lycoris ? "lycoris" : "kohya") : peft ? "diffusers-peft" : "diffusers-old";
  std::string v = md("ss_base_model_version"), arch = md("modelspec.architecture");
  if (starts_with(v, "sdxl") || contains(arch, "stable-diffusion-xl") || te2 || ctx == 2048) f.family = "SDXL";
  else if (starts_with(v, "sd_v2") || contains(arch, "stable-diffusion-v2") || ctx == 1024) f.family = "SD2.x";
  else if (starts_with(v, "flux") || contains(arch, "flux") || flux) f.family = "Flux";
  else if (starts_with(v, "sd_v1") || contains(arch, "stable-diffusion-v1") || ctx == 768) f.family = "SD1.x";
  else f.family = "unknown";
  for (auto& [a, n] : algos) f.detail += (f.detail.empty() ? "" : ", ") + fmt::format("{} ×{}", a, n);
  return true;
}

void classify_tensors(const io::TensorFile& tf, FoundModel& f, const std::string& layout) {
  if (classify_adapter(tf, f)) return;
  sd::Family fam = sd::detect_family(tf.tensors);
  bool ckpt = false;
  for (const auto& [k, t] : tf.tensors)
    if (starts_with(k, "model.diffusion_model.") || starts_with(k, "conditioner.embedders.") ||
        starts_with(k, "first_stage_model.")) {
      ckpt = true;
      break;
    }
  if (ckpt || fam != sd::Family::Unknown) {
    f.kind = "checkpoint";
    f.layout = layout;
    f.family = sd::family_name(fam);
    f.detail = fmt::format("{} tensors", tf.tensors.size());
    if (!ckpt) f.detail += ", one component (diffusers names)";
  } else {
    f.kind = "unknown";
    f.layout = layout;
    f.family = "unknown";
    f.detail = fmt::format("{} tensors, neither a checkpoint nor an adapter", tf.tensors.size());
  }
}

std::string diffusers_family(const fs::path& dir) {
  std::ifstream in(dir / "unet" / "config.json");
  if (!in) return "unknown";
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object()) return "unknown";
  if (j.value("addition_embed_type", nlohmann::json()).is_string()) return "SDXL";
  auto ctx = j.find("cross_attention_dim");
  int c = ctx != j.end() && ctx->is_number_integer() ? ctx->get<int>() : 0;
  if (c == 2048) return "SDXL";
  if (c == 1024 || j.value("use_linear_projection", false)) return "SD2.x";
  if (c > 0) return "SD1.x";
  return "unknown";
}

}  // namespace

FoundModel classify_path(const std::string& path) {
  FoundModel f;
  f.path = path;
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) {
    f.kind = fs::is_regular_file(p / "model_index.json", ec) ? "checkpoint" : "unknown";
    f.layout = "diffusers folder";
    f.family = f.kind == "checkpoint" ? diffusers_family(p) : "unknown";
    for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec)) f.size += it->file_size(ec);
    if (f.kind == "unknown") f.detail = "folder without model_index.json";
    return f;
  }
  f.size = fs::file_size(p, ec);
  std::string ext = lower_ext(p);
  try {
    if (ext == ".safetensors") {
      classify_tensors(io::read_safetensors(path), f, "single file");
    } else if (f.size > kMaxInspectedPickle) {
      f.kind = "checkpoint";
      f.layout = "ckpt (not inspected)";
      f.family = "unknown";
      f.detail = "pickle too large to open cheaply";
    } else {
      classify_tensors(io::read_checkpoint(path), f, "ckpt");
    }
  } catch (const std::exception& e) {
    f.kind = "unknown";
    f.layout = ext.empty() ? "file" : ext.substr(1);
    f.family = "unknown";
    f.detail = e.what();
  }
  return f;
}

std::vector<FoundModel> scan_models(const std::vector<std::string>& roots) {
  std::vector<FoundModel> out;
  for (const std::string& root : roots) {
    std::error_code ec;
    fs::path r(root);
    if (!fs::exists(r, ec)) fail("{}: no such file or folder", root);
    if (!fs::is_directory(r, ec)) {
      out.push_back(classify_path(root));
      continue;
    }
    if (fs::is_regular_file(r / "model_index.json", ec)) {
      out.push_back(classify_path(root));
      continue;
    }
    auto it = fs::recursive_directory_iterator(r, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& p = it->path();
      if (it->is_directory(ec)) {
        if (fs::is_regular_file(p / "model_index.json", ec)) {
          out.push_back(classify_path(p.string()));
          it.disable_recursion_pending();
        }
      } else if (it->is_regular_file(ec) && is_candidate(p)) {
        out.push_back(classify_path(p.string()));
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const FoundModel& a, const FoundModel& b) { return a.path < b.path; });
  return out;
}

std::string models_table(const std::vector<FoundModel>& found) {
  std::string o = fmt::format("{:<11}{:<9}{:<22}{:<28}{:>10}  {}\n", "KIND", "FAMILY", "LAYOUT/FORMAT", "DETAIL", "SIZE", "PATH");
  for (const FoundModel& f : found) {
    std::string size = f.size >= (1u << 20) ? fmt::format("{:.1f} MB", f.size / 1048576.0) : fmt::format("{} KB", (f.size + 1023) / 1024);
    std::string detail = f.detail.size() > 26 ? f.detail.substr(0, 25) + "…" : f.detail;
    o += fmt::format("{:<11}{:<9}{:<22}{:<28}{:>10}  {}\n", f.kind, f.family, f.layout, detail, size, f.path);
  }
  return o;
}

nlohmann::json models_json(const std::vector<FoundModel>& found) {
  nlohmann::json j = nlohmann::json::array();
  for (const FoundModel& f : found)
    j.push_back({{"path", f.path}, {"kind", f.kind}, {"layout", f.layout}, {"family", f.family}, {"detail", f.detail},
                 {"size", f.size}});
  return j;
}

}  // namespace ls::toolbox
