#include "text/tokenizer_files.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/error.h"
#include "text/byte_unicode.h"

namespace fs = std::filesystem;

namespace ls::text {
namespace {

bool has_tokenizer_files(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "vocab.json", ec) && fs::is_regular_file(dir / "merges.txt", ec);
}

void write_file(const fs::path& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) fail("{}: cannot open for writing: {}", path.string(), std::strerror(errno));
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f) fail("{}: write failed", path.string());
}

}  // namespace

std::string read_text_file(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail("{}: is a folder, expected a file", path);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail("{}: cannot open: {}", path, std::strerror(errno));
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  if (size < 0) fail("{}: cannot determine the file size", path);
  if (static_cast<uint64_t>(size) > max_bytes)
    fail("{}: file is {} bytes, more than the {} bytes allowed for a tokenizer file", path, size, max_bytes);
  f.seekg(0, std::ios::beg);
  std::string data(static_cast<size_t>(size), '\0');
  if (size > 0 && !f.read(data.data(), size)) fail("{}: read failed after {} of {} bytes", path, f.gcount(), size);
  return data;
}

std::string find_tokenizer_dir(const std::string& model_dir_or_file, const std::string& explicit_dir) {
  const char* hint =
      "put vocab.json and merges.txt (the CLIP BPE files, e.g. from the SD1.5 tokenizer/ folder) in one of them "
      "or pass --tokenizer DIR";
  if (!explicit_dir.empty()) {
    if (has_tokenizer_files(explicit_dir)) return explicit_dir;
    fail("--tokenizer {}: no vocab.json and merges.txt there; put vocab.json and merges.txt (the CLIP BPE files, "
         "e.g. from the SD1.5 tokenizer/ folder) in it",
         explicit_dir);
  }
  std::vector<fs::path> candidates;
  if (!model_dir_or_file.empty()) {
    fs::path model(model_dir_or_file);
    std::error_code ec;
    if (fs::is_directory(model, ec)) {
      candidates.push_back(model / "tokenizer");
    } else {
      fs::path parent = model.has_parent_path() ? model.parent_path() : fs::path(".");
      candidates.push_back(parent / (model.stem().string() + ".tokenizer"));
      candidates.push_back(parent / "tokenizer");
    }
  }
  if (const char* data = std::getenv("LORASTACK_DATA"); data && *data)
    candidates.push_back(fs::path(data) / "tokenizer" / "clip");
  if (const char* home = std::getenv("HOME"); home && *home)
    candidates.push_back(fs::path(home) / ".local/share/lorastack/tokenizer/clip");
  candidates.emplace_back("/usr/local/share/lorastack/tokenizer/clip");
  candidates.emplace_back("/usr/share/lorastack/tokenizer/clip");

  std::string looked;
  for (const fs::path& dir : candidates) {
    if (has_tokenizer_files(dir)) return dir.string();
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  fail("no CLIP tokenizer found (vocab.json + merges.txt); looked in: {}; {}", looked, hint);
}

void write_byte_tokenizer(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("{}: cannot create folder: {}", dir, ec.message());
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  int id = 0;
  for (uint8_t b : byte_alphabet_order()) vocab[byte_to_symbol(b)] = id++;
  for (uint8_t b : byte_alphabet_order()) vocab[byte_to_symbol(b) + "</w>"] = id++;
  vocab["<|startoftext|>"] = id++;
  vocab["<|endoftext|>"] = id++;
  write_file(fs::path(dir) / "vocab.json", vocab.dump());
  write_file(fs::path(dir) / "merges.txt", "#version: 0.2\n");
}

}  // namespace ls::text
