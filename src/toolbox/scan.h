// `lorastack models list`: find checkpoints and adapters under folders and tell what each one is, reading only
// headers — safetensors headers (the data is memory-mapped, never touched), diffusers config.json files, and
// small .ckpt/.pt pickles through the restricted loader (io/weights.h); larger pickles are not opened.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ls::toolbox {

/// One thing found.
struct FoundModel {
  std::string path;
  std::string kind;    ///< "checkpoint", "adapter", "unknown"
  std::string layout;  ///< checkpoints: "single file", "diffusers folder", "ckpt", "ckpt (not inspected)"; adapters: format
  std::string family;  ///< "SD1.x", "SD2.x", "SDXL", "Flux", "unknown"
  std::string detail;  ///< adapters: algorithm counts ("lora ×140"); unknown files: why
  uint64_t size = 0;   ///< bytes (folders: sum of their files)
};

/// Pickled checkpoints larger than this are listed as "ckpt (not inspected)".
inline constexpr uint64_t kMaxInspectedPickle = 256ull << 20;

/// Classify one file (.safetensors, .ckpt, .pt, .pth, .bin) or diffusers folder (holding model_index.json).
/// Never throws for unreadable or malformed files: they are listed as kind "unknown" with the reason in `detail`.
FoundModel classify_path(const std::string& path);

/// Everything under `roots` (files or folders, recursively; a diffusers folder is one entry and is not descended
/// into), sorted by path. Throws ls::Error naming a root that does not exist.
std::vector<FoundModel> scan_models(const std::vector<std::string>& roots);

/// A table with one line per entry (kind, family, layout, detail, size, path).
std::string models_table(const std::vector<FoundModel>& found);
nlohmann::json models_json(const std::vector<FoundModel>& found);

}  // namespace ls::toolbox
