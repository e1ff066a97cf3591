#include "toolbox/inspect.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <filesystem>

#include "adapters/adapter_file.h"
#include "io/hashes.h"
#include "io/weights.h"
#include "toolbox/lora_names.h"

namespace ls::toolbox {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool contains(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }

// Position of a dtype in safetensors' Dtype enum (the serializer sorts by it, descending).
int safetensors_dtype_rank(DType t) {
  switch (t) {
    case DType::BOOL: return 0;
    case DType::U8: return 4;
    case DType::I8: return 5;
    case DType::F8_E5M2: return 6;
    case DType::F8_E4M3: return 7;
    case DType::I16: return 9;
    case DType::F16: return 11;
    case DType::BF16: return 12;
    case DType::I32: return 13;
    case DType::F32: return 15;
    case DType::F64: return 17;
    case DType::I64: return 18;
  }
  return 0;
}

std::string component_of(const std::string& key) {
  if (starts_with(key, "lora_te2_") || starts_with(key, "text_encoder_2.")) return "te2";
  if (starts_with(key, "lora_te") || starts_with(key, "text_encoder.") || starts_with(key, "te.")) return "te";
  return "unet";
}

std::string group_of(const adapters::ModuleTensors& m) {
  std::string c = component_of(m.key);
  const std::string& k = m.key;
  if (c != "unet") {
    if (contains(k, "self_attn")) return c + " attn";
    if (contains(k, "mlp")) return c + " mlp";
    return c + " other";
  }
  if (contains(k, "attn1") || contains(k, "attn2")) return "unet attn";
  if (contains(k, "ff_net") || contains(k, "ff.net")) return "unet ff";
  if (contains(k, "proj_in") || contains(k, "proj_out")) return "unet proj";
  if (contains(k, "resnets") || contains(k, "samplers") || contains(k, "conv") || contains(k, "_op") ||
      contains(k, "in_layers") || contains(k, "out_layers") || contains(k, "skip_connection"))
    return "unet conv";
  return "unet other";
}

std::string rank_of(const adapters::ModuleTensors& m) {
  using adapters::Part;
  switch (m.algo) {
    case adapters::Algo::LoRA:
    case adapters::Algo::LoCon:
    case adapters::Algo::LoRACP: return std::to_string(m.get(Part::Down).dim(0));
    case adapters::Algo::LoHa: return std::to_string(m.get(Part::HadaW1B).dim(0));
    case adapters::Algo::LoKr:
      if (m.has(Part::LokrW2B)) return std::to_string(m.get(Part::LokrW2B).dim(0));
      if (m.has(Part::LokrW1B)) return std::to_string(m.get(Part::LokrW1B).dim(0));
      return "full";
    default: return "-";
  }
}

std::string num(float v) {
  std::string s = fmt::format("{:g}", v);
  return s;
}

// Tensors in safetensors' serialisation order: dtype descending (its Dtype enum), then name.
std::vector<std::pair<std::string, const Tensor*>> serialisation_order(const std::map<std::string, Tensor>& tensors) {
  std::vector<std::pair<std::string, const Tensor*>> order;
  for (const auto& [k, t] : tensors) order.emplace_back(k, &t);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    int ra = safetensors_dtype_rank(a.second->dtype()), rb = safetensors_dtype_rank(b.second->dtype());
    if (ra != rb) return ra > rb;
    return a.first < b.first;
  });
  return order;
}

}  // namespace

std::string kohya_model_hash(const std::map<std::string, Tensor>& tensors) {
  auto order = serialisation_order(tensors);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) fail("kohya hash: SHA-256 unavailable");
  for (const auto& [k, t] : order)
    if (t->nbytes() > 0) EVP_DigestUpdate(ctx.get(), t->raw(), t->nbytes());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::string kohya_legacy_hash(const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> ss;
  for (const auto& [k, v] : metadata)
    if (starts_with(k, "ss_")) ss[k] = v;
  auto order = serialisation_order(tensors);
  // The header as safetensors (serde_json, compact) writes it. Its length is what matters below 1 MiB; JSON
  // string escaping (", \, control characters as \b \t \n \f \r or \u00xx, UTF-8 verbatim) matches serde_json.
  std::string hdr = "{\"__metadata__\":" + nlohmann::json(ss).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  uint64_t off = 0;
  for (const auto& [k, t] : order) {
    std::string shape;
    for (int64_t d : t->shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    hdr += "," + nlohmann::json(k).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + fmt::format(":{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                                                         dtype_name(t->dtype()), shape, off, off + t->nbytes());
    off += t->nbytes();
  }
  hdr += "}";
  while (hdr.size() % 8) hdr.push_back(' ');
  // Hash the window [1 MiB, 1 MiB + 64 KiB) of: 8-byte length, header, tensor bytes.
  const uint64_t lo = 0x100000, hi = 0x110000;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) fail("kohya legacy hash: SHA-256 unavailable");
  uint64_t pos = 0;
  auto feed = [&](const void* data, uint64_t n) {
    const uint64_t a = std::max(pos, lo), b = std::min(pos + n, hi);
    if (a < b) EVP_DigestUpdate(ctx.get(), static_cast<const char*>(data) + (a - pos), b - a);
    pos += n;
  };
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((static_cast<uint64_t>(hdr.size()) >> (8 * i)) & 0xff);
  feed(len, 8);
  feed(hdr.data(), hdr.size());
  for (const auto& [k, t] : order) {
    if (pos >= hi) break;
    if (t->nbytes() > 0) feed(t->raw(), t->nbytes());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  std::string out;
  for (unsigned i = 0; i < 4; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::vector<std::pair<std::string, int>> top_tags(const std::string& js, size_t n) {
  nlohmann::json j = nlohmann::json::parse(js, nullptr, /*allow_exceptions=*/false);
  std::map<std::string, double> counts;  // double: counts come from untrusted metadata (floats, huge values)
  if (j.is_object())
    for (auto& [dir, tags] : j.items()) {
      if (!tags.is_object()) continue;
      for (auto& [tag, c] : tags.items()) {
        std::string t = tag;
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
        if (t.empty() || !c.is_number()) continue;
        const double x = c.get<double>();
        if (std::isfinite(x)) counts[t] += x;
      }
    }
  std::vector<std::pair<std::string, int>> v;
  for (auto& [t, c] : counts) v.emplace_back(t, static_cast<int>(std::clamp(c, -2e9, 2e9)));
  std::stable_sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.second > b.second; });
  if (v.size() > n) v.resize(n);
  return v;
}

InspectReport inspect_adapter(const std::string& path) {
  InspectReport r;
  r.path = path;
  io::TensorFile tf = io::read_checkpoint(path);
  adapters::AdapterFile af = adapters::parse_adapter(tf);
  std::error_code ec;
  r.file_size = std::filesystem::file_size(path, ec);
  r.format = adapters::format_name(af.format);
  r.family = af.family_guess;
  r.metadata = af.metadata;
  r.unknown_keys = af.unknown_keys;
  auto md = [&](const std::string& k) {
    auto it = af.metadata.find(k);
    return it == af.metadata.end() ? std::string() : it->second;
  };
  if (!md("ss_base_model_version").empty()) r.family_source = "ss_base_model_version=" + md("ss_base_model_version");
  else if (!md("modelspec.architecture").empty()) r.family_source = "modelspec.architecture=" + md("modelspec.architecture");
  else r.family_source = "key names and shapes";

  std::map<std::string, ModuleGroup> groups;
  for (const adapters::ModuleTensors& m : af.modules) {
    r.modules++;
    std::string c = component_of(m.key);
    (c == "unet" ? r.unet_modules : r.te_modules)++;
    r.algorithms[adapters::algo_name(m.algo)]++;
    if (m.dora) r.algorithms["dora"]++;
    ModuleGroup& g = groups[group_of(m)];
    g.name = group_of(m);
    g.modules++;
    g.algorithms[adapters::algo_name(m.algo)]++;
    std::string rk = rank_of(m);
    if (rk != "-") g.rank_alpha["rank " + rk + ", alpha " + (m.has_alpha ? num(m.alpha) : std::string("-"))]++;
  }
  for (auto& [n, g] : groups) r.groups.push_back(g);

  for (sd::Family f : {sd::Family::SD1, sd::Family::SD2}) {
    const NameModel& nm = name_model(f);
    FamilyFit fit;
    fit.family = sd::family_name(f);
    for (const adapters::ModuleTensors& m : af.modules) {
      const adapters::Target* t = nm.keymap->find(m.key);
      if (!t) continue;
      fit.names_matched++;
      if (m.algo != adapters::Algo::LoRA && m.algo != adapters::Algo::LoCon) continue;
      fit.shapes_checked++;
      const Tensor& down = m.get(adapters::Part::Down);
      const Tensor& up = m.get(adapters::Part::Up);
      const Shape& s = nm.shape_of(*t);
      if (s.size() >= 2 && up.dim(0) == s[0] && down.numel() / down.dim(0) == shape_numel(s) / s[0]) fit.shapes_fit++;
    }
    r.fits.push_back(fit);
  }

  r.trigger_phrase = md("modelspec.trigger_phrase");
  if (!md("ss_tag_frequency").empty()) r.top_tags = top_tags(md("ss_tag_frequency"));

  r.sha256 = io::sha256_file(path);
  r.autov2 = r.sha256.substr(0, 10);
  for (char& ch : r.autov2) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  r.addnet_hash = io::addnet_hash(path);
  r.short_hash = r.addnet_hash.substr(0, 12);
  bool st = path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
  if (st) r.kohya_hash_computed = kohya_model_hash(tf.tensors);
  r.kohya_hash_stored = md("sshs_model_hash");
  if (r.kohya_hash_stored.empty()) r.kohya_hash_status = "absent";
  else r.kohya_hash_status = r.kohya_hash_stored == r.kohya_hash_computed ? "matches" : "differs";
  if (st) r.legacy_hash_computed = kohya_legacy_hash(tf.tensors, af.metadata);
  r.legacy_hash_stored = md("sshs_legacy_hash");
  if (r.legacy_hash_stored.empty()) r.legacy_hash_status = "absent";
  else r.legacy_hash_status = r.legacy_hash_stored == r.legacy_hash_computed ? "matches" : "differs";
  return r;
}

std::string inspect_text(const InspectReport& r) {
  std::string o;
  auto line = [&](const std::string& k, const std::string& v) { o += fmt::format("{:<18}{}\n", k + ":", v); };
  line("file", fmt::format("{} ({} bytes)", r.path, r.file_size));
  line("format", r.format);
  std::string algos;
  for (auto& [a, n] : r.algorithms) algos += (algos.empty() ? "" : ", ") + fmt::format("{} ×{}", a, n);
  line("adapter type", algos);
  line("base family", fmt::format("{} (from {})", r.family, r.family_source));
  for (const FamilyFit& f : r.fits)
    line("fits " + f.family,
         fmt::format("key names {}/{} modules, full-size shapes {}/{} LoRA modules", f.names_matched, r.modules,
                     f.shapes_fit, f.shapes_checked));
  line("modules", fmt::format("{} (unet {}, text encoder {})", r.modules, r.unet_modules, r.te_modules));
  for (const ModuleGroup& g : r.groups) {
    std::string ra;
    for (auto& [k, n] : g.rank_alpha) ra += (ra.empty() ? "" : "; ") + fmt::format("{} ×{}", k, n);
    std::string al;
    for (auto& [a, n] : g.algorithms) al += (al.empty() ? "" : ", ") + a;
    o += fmt::format("  {:<16}{} modules ({}){}\n", g.name, g.modules, al, ra.empty() ? "" : ": " + ra);
  }
  if (!r.unknown_keys.empty())
    line("unknown keys", fmt::format("{} (first: {})", r.unknown_keys.size(), r.unknown_keys.front()));
  line("trigger phrase", r.trigger_phrase.empty() ? "-" : r.trigger_phrase);
  std::string tags;
  for (auto& [t, n] : r.top_tags) tags += (tags.empty() ? "" : ", ") + fmt::format("{} ({})", t, n);
  line("top tags", tags.empty() ? "-" : tags);
  line("sha256", r.sha256);
  line("AutoV2", r.autov2);
  line("addnet hash", r.addnet_hash);
  line("A1111 short hash", r.short_hash);
  std::string kh = r.kohya_hash_status;
  if (r.kohya_hash_status == "absent")
    kh += r.kohya_hash_computed.empty() ? "" : " (kohya would write " + r.kohya_hash_computed + ")";
  else
    kh += " (stored " + r.kohya_hash_stored + ", computed " + r.kohya_hash_computed + ")";
  line("sshs_model_hash", kh);
  std::string lh = r.legacy_hash_status;
  if (r.legacy_hash_status == "absent")
    lh += r.legacy_hash_computed.empty() ? "" : " (kohya would write " + r.legacy_hash_computed + ")";
  else
    lh += " (stored " + r.legacy_hash_stored + ", computed " + r.legacy_hash_computed + ")";
  line("sshs_legacy_hash", lh);
  o += fmt::format("metadata ({} keys):\n", r.metadata.size());
  for (const auto& [k, v] : r.metadata) {
    std::string shown = v;
    if (k == "ss_tag_frequency") shown = fmt::format("<{} characters; top tags above>", v.size());
    else if (shown.size() > 200) shown = shown.substr(0, 200) + fmt::format("… ({} characters)", v.size());
    for (char& ch : shown)
      if (ch == '\n') ch = ' ';
    o += fmt::format("  {} = {}\n", k, shown);
  }
  return o;
}

nlohmann::json inspect_json(const InspectReport& r) {
  nlohmann::json j;
  j["path"] = r.path;
  j["file_size"] = r.file_size;
  j["format"] = r.format;
  j["algorithms"] = r.algorithms;
  j["family"] = r.family;
  j["family_source"] = r.family_source;
  for (const FamilyFit& f : r.fits)
    j["fits"].push_back({{"family", f.family}, {"names_matched", f.names_matched}, {"shapes_checked", f.shapes_checked},
                         {"shapes_fit", f.shapes_fit}});
  j["modules"] = r.modules;
  j["unet_modules"] = r.unet_modules;
  j["te_modules"] = r.te_modules;
  for (const ModuleGroup& g : r.groups)
    j["groups"].push_back({{"name", g.name}, {"modules", g.modules}, {"algorithms", g.algorithms}, {"rank_alpha", g.rank_alpha}});
  j["unknown_keys"] = r.unknown_keys;
  j["metadata"] = r.metadata;
  j["trigger_phrase"] = r.trigger_phrase;
  j["top_tags"] = nlohmann::json::array();
  for (auto& [t, n] : r.top_tags) j["top_tags"].push_back({{"tag", t}, {"count", n}});
  j["sha256"] = r.sha256;
  j["autov2"] = r.autov2;
  j["addnet_hash"] = r.addnet_hash;
  j["short_hash"] = r.short_hash;
  j["sshs_model_hash"] = {{"status", r.kohya_hash_status}, {"stored", r.kohya_hash_stored}, {"computed", r.kohya_hash_computed}};
  j["sshs_legacy_hash"] = {{"status", r.legacy_hash_status}, {"stored", r.legacy_hash_stored}, {"computed", r.legacy_hash_computed}};
  return j;
}

}  // namespace ls::toolbox
