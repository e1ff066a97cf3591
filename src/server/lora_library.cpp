#include "server/lora_library.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include "runtime/error.h"
#include "server/api_error.h"
#include "toolbox/inspect.h"

namespace fs = std::filesystem;

namespace ls::server {

namespace {

constexpr size_t kMaxNameBytes = 1024;
constexpr size_t kMaxListed = 10000;
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

bool adapter_extension(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e == ".safetensors" || e == ".ckpt" || e == ".pt" || e == ".pth";
}

std::string without_extension(const std::string& rel) {
  fs::path p(rel);
  return (p.parent_path() / p.stem()).generic_string();
}

std::vector<std::string> split_trigger_phrase(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string w = s.substr(start, end - start);
    w.erase(0, w.find_first_not_of(" \t"));
    w.erase(w.find_last_not_of(" \t") + 1);
    if (!w.empty()) out.push_back(w);
    start = end + 1;
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) ls::fail("{}: cannot open", path);
  unsigned char len[8];
  if (!f.read(reinterpret_cast<char*>(len), 8)) ls::fail("{}: shorter than a safetensors header", path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  const uint64_t size = fs::file_size(path);
  if (n > kMaxHeaderBytes || n + 8 > size) ls::fail("{}: header length {} does not fit the file of {} bytes", path, n, size);
  std::string header(static_cast<size_t>(n), '\0');
  if (!f.read(header.data(), static_cast<std::streamsize>(n))) ls::fail("{}: truncated header", path);
  auto j = nlohmann::json::parse(header, nullptr, false);
  if (j.is_discarded() || !j.is_object()) ls::fail("{}: header is not a JSON object", path);
  std::map<std::string, std::string> out;
  auto it = j.find("__metadata__");
  if (it != j.end() && it->is_object())
    for (auto& [k, v] : it->items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

LoraLibrary::LoraLibrary(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) ls::fail("--lora-dir {}: not a folder", dir);
  root_ = fs::canonical(dir).string();
}

bool LoraLibrary::inside(const fs::path& canonical) const {
  const std::string s = canonical.string();
  return s.size() > root_.size() && s.compare(0, root_.size(), root_) == 0 && s[root_.size()] == '/';
}

void LoraLibrary::scan_locked() {
  entries_.clear();
  scanned_ = true;
  if (!enabled()) return;
  std::error_code ec;
  // Symlinked folders are not descended into (no loops, no escapes); symlinked files are listed only when their
  // target lies inside the folder.
  fs::recursive_directory_iterator it(root_, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (entries_.size() >= kMaxListed) break;
    const fs::path p = it->path();
    std::error_code e2;
    if (!adapter_extension(p) || !fs::is_regular_file(p, e2)) continue;
    fs::path canon = fs::canonical(p, e2);
    if (e2 || !inside(canon)) continue;
    LoraEntry en;
    en.rel_path = p.lexically_relative(root_).generic_string();  // of the link itself, not its target
    en.name = p.stem().string();
    en.path = canon.string();
    en.size = fs::file_size(canon, e2);
    entries_.push_back(std::move(en));
  }
  // Stems shared by several files: those are named by their relative path without extension.
  std::map<std::string, int> stems;
  for (const auto& e : entries_) ++stems[e.name];
  for (auto& e : entries_)
    if (stems[e.name] > 1) e.name = without_extension(e.rel_path);
  std::sort(entries_.begin(), entries_.end(), [](const LoraEntry& a, const LoraEntry& b) {
    return a.name != b.name ? a.name < b.name : a.rel_path < b.rel_path;
  });
}

LoraEntry LoraLibrary::resolve(const std::string& name, const std::string& field) {
  if (!enabled())
    api_fail(422, field, "{} '{}': this server has no LoRA folder (start it with --lora-dir DIR)", field, name);
  if (name.empty()) api_fail(422, field, "{}: empty LoRA name", field);
  if (name.size() > kMaxNameBytes)
    api_fail(422, field, "{}: LoRA name of {} bytes, longer than {}", field, name.size(), kMaxNameBytes);
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) api_fail(400, field, "{}: LoRA name contains a control character", field);
  if (name[0] == '/' || name[0] == '\\' || name[0] == '~' || (name.size() > 1 && name[1] == ':'))
    api_fail(403, field, "{} '{}': absolute paths are not allowed; name a LoRA inside the LoRA folder", field, name);
  {
    size_t start = 0;
    while (start <= name.size()) {
      size_t end = name.find_first_of("/\\", start);
      if (end == std::string::npos) end = name.size();
      if (name.compare(start, end - start, "..") == 0 && end - start == 2)
        api_fail(403, field, "{} '{}': '..' is not allowed; name a LoRA inside the LoRA folder", field, name);
      start = end + 1;
    }
  }
  const std::string wanted = fs::path(name).lexically_normal().generic_string();  // "./a//b" → "a/b"
  std::lock_guard<std::mutex> lock(mutex_);
  for (int pass = 0; pass < 2; ++pass) {
    if (!scanned_ || pass == 1) scan_locked();  // a file added since the last scan is found on the second pass
    std::vector<const LoraEntry*> hits;
    for (const auto& e : entries_)
      if (e.name == wanted || e.rel_path == wanted || without_extension(e.rel_path) == wanted) hits.push_back(&e);
    if (hits.empty())
      for (const auto& e : entries_)
        if (fs::path(e.rel_path).stem().string() == wanted) hits.push_back(&e);
    // A1111 also takes the alias /sdapi/v1/loras lists (ss_output_name), after the names
    if (hits.empty()) {
      const std::vector<LoraInfo> infos = infos_locked();  // one per entry, in the same order
      for (size_t i = 0; i < entries_.size() && i < infos.size(); ++i)
        if (infos[i].alias == name) hits.push_back(&entries_[i]);
    }
    if (hits.size() > 1) {
      // the same stem with several extensions: prefer .safetensors, as resolve_lora does
      std::vector<const LoraEntry*> st;
      for (auto* h : hits)
        if (fs::path(h->rel_path).extension() == ".safetensors") st.push_back(h);
      if (st.size() == 1) hits = st;
    }
    if (hits.size() == 1) return *hits[0];
    if (hits.size() > 1) {
      std::string names;
      for (size_t i = 0; i < hits.size() && i < 5; ++i) names += (i ? ", " : "") + hits[i]->rel_path;
      api_fail(422, field, "{} '{}': matches {} files in the LoRA folder ({}); name one by its relative path", field,
               name, hits.size(), names);
    }
  }
  // Not listed: say why when the name points at something that exists but is not allowed (or take a file the
  // listing left out, e.g. past its size limit).
  std::error_code ec;
  for (const std::string& candidate :
       {wanted, wanted + ".safetensors", wanted + ".ckpt", wanted + ".pt", wanted + ".pth"}) {
    fs::path p = fs::path(root_) / candidate;
    if (!fs::exists(fs::symlink_status(p, ec)) || ec) continue;
    fs::path canon = fs::canonical(p, ec);
    if (ec) api_fail(422, field, "{} '{}': a broken link in the LoRA folder", field, name);
    if (!inside(canon))
      api_fail(403, field, "{} '{}': resolves outside the LoRA folder (a symlink); refused", field, name);
    if (!fs::is_regular_file(canon, ec))
      api_fail(422, field, "{} '{}': not an adapter file in the LoRA folder", field, name);
    if (!adapter_extension(canon))
      api_fail(422, field, "{} '{}': not an adapter file (.safetensors, .ckpt, .pt, .pth)", field, name);
    LoraEntry e;
    e.rel_path = fs::path(candidate).lexically_normal().generic_string();
    e.name = without_extension(e.rel_path);
    e.path = canon.string();
    e.size = fs::file_size(canon, ec);
    return e;
  }
  api_fail(422, field, "{} '{}': no such LoRA in the LoRA folder (GET /sdapi/v1/loras lists them)", field, name);
}

std::vector<LoraInfo> LoraLibrary::list(bool rescan) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!scanned_ || rescan) scan_locked();
  return infos_locked();
}

std::vector<LoraInfo> LoraLibrary::infos_locked() {
  std::vector<LoraInfo> out;
  std::map<std::string, Cached> kept;
  for (const auto& e : entries_) {
    std::error_code ec;
    auto mtime = fs::last_write_time(e.path, ec);
    auto it = headers_.find(e.path);
    if (it == headers_.end() || it->second.mtime != mtime || it->second.info.entry.size != e.size) {
      Cached c;
      c.mtime = mtime;
      c.info.metadata = nlohmann::json::object();
      if (fs::path(e.path).extension() == ".safetensors") {
        try {
          for (auto& [k, v] : read_safetensors_metadata(e.path)) {
            if (!v.empty() && (v[0] == '{' || v[0] == '[')) {
              auto parsed = nlohmann::json::parse(v, nullptr, false);
              c.info.metadata[k] = parsed.is_discarded() ? nlohmann::json(v) : parsed;
            } else {
              c.info.metadata[k] = v;
            }
          }
        } catch (const std::exception& ex) {
          c.info.error = ex.what();
        }
      }
      const auto& md = c.info.metadata;
      if (md.contains("modelspec.trigger_phrase") && md["modelspec.trigger_phrase"].is_string())
        c.info.trigger_words = split_trigger_phrase(md["modelspec.trigger_phrase"].get<std::string>());
      if (c.info.trigger_words.empty() && md.contains("ss_tag_frequency"))
        for (auto& [tag, n] : ls::toolbox::top_tags(md["ss_tag_frequency"].dump(), 5)) c.info.trigger_words.push_back(tag);
      c.info.alias = md.contains("ss_output_name") && md["ss_output_name"].is_string()
                         ? md["ss_output_name"].get<std::string>()
                         : std::string();
      it = headers_.insert_or_assign(e.path, std::move(c)).first;
    }
    LoraInfo info = it->second.info;
    info.entry = e;
    if (info.alias.empty()) info.alias = e.name;
    kept.emplace(e.path, it->second);
    kept[e.path].info.entry = e;
    out.push_back(std::move(info));
  }
  headers_ = std::move(kept);
  return out;
}

}  // namespace ls::server
