// The LoRA folder of a server: what adapters it holds (with their metadata and trigger words) and how a request's
// LoRA name or relative path is resolved — confined to the folder: absolute paths, '..' components and symlinks
// whose target lies outside the folder are refused (ApiError 403); names that match nothing or several files
// are ApiError 422. Thread-safe (one mutex around the cached listing).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ls::server {

/// One adapter file in the folder.
struct LoraEntry {
  std::string name;      ///< file stem ("style"); relative path without extension ("sub/style") when stems collide
  std::string rel_path;  ///< path relative to the folder, with extension ("sub/style.safetensors")
  std::string path;      ///< absolute canonical path (what Engine::set_loras gets)
  uint64_t size = 0;     ///< bytes
};

/// An adapter with what its header says (safetensors `__metadata__`; pickles have none).
struct LoraInfo {
  LoraEntry entry;
  std::string alias;                       ///< ss_output_name, else the name (A1111's "alias")
  nlohmann::json metadata;                 ///< object; JSON-looking strings (ss_tag_frequency) parsed, as A1111 does
  std::vector<std::string> trigger_words;  ///< modelspec.trigger_phrase split at ',', else the top ss_tag_frequency tags
  std::string error;                       ///< why the header could not be read ("" when it could)
};

class LoraLibrary {
 public:
  /// `dir` "" = no LoRA folder (every LoRA request is refused with 422). Throws ls::Error when `dir` is given but
  /// is not a folder.
  explicit LoraLibrary(const std::string& dir);

  bool enabled() const { return !root_.empty(); }
  /// The canonical folder ("" when disabled).
  const std::string& root() const { return root_; }

  /// Resolve `name` — a listed name, a file stem, a path relative to the folder with or without extension, or
  /// else a listed alias (ss_output_name; A1111 resolves `<lora:ALIAS:w>` too) — to one file inside the folder.
  /// `field` names the request field in errors ("loras[1].name", "prompt").
  /// Throws ApiError: 422 when disabled, empty, unknown or ambiguous; 403 for an absolute path, a '..'
  /// component, or a file (symlink) whose target is outside the folder; 400 for control characters.
  LoraEntry resolve(const std::string& name, const std::string& field);

  /// Every adapter file (.safetensors, .ckpt, .pt, .pth) under the folder, recursively, sorted by name. The
  /// folder is re-scanned when `rescan` or on first use; headers are re-read only for changed files.
  std::vector<LoraInfo> list(bool rescan = false);

 private:
  struct Cached {
    LoraInfo info;
    std::filesystem::file_time_type mtime;
  };
  void scan_locked();
  /// LoraInfo of every entry (headers re-read only for changed files); under the lock.
  std::vector<LoraInfo> infos_locked();
  bool inside(const std::filesystem::path& canonical) const;

  std::string root_;
  std::mutex mutex_;
  bool scanned_ = false;
  std::vector<LoraEntry> entries_;
  std::map<std::string, Cached> headers_;  ///< by canonical path
};

/// Read a safetensors file's `__metadata__` (header only, at most 100 MB of header). Throws ls::Error naming the
/// file when the header is unreadable.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

}  // namespace ls::server
