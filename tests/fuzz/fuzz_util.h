// Shared helpers of the libFuzzer targets (tests/fuzz/README.md).
//
// The contract every target checks: on any input the code under test either succeeds or throws
// ls::Error with a one-line message. Any other exception escapes LLVMFuzzerTestOneInput and libFuzzer
// reports it as a crash (std::terminate); ASan / UBSan reports abort the run as well.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/error.h"
#include "runtime/tensor.h"

namespace ls::fuzz {

/// Abort (a libFuzzer crash) when an ls::Error message breaks the one-line rule of runtime/error.h.
inline void check_message(const ls::Error& e) {
  std::string_view m = e.what();
  if (m.empty() || m.find('\n') != std::string_view::npos) {
    std::fprintf(stderr, "ls::Error message is empty or spans lines: '%s'\n", e.what());
    std::abort();
  }
}

/// A per-process scratch path (in /dev/shm when there is one: no disk traffic per iteration), removed at exit.
class ScratchPath {
 public:
  explicit ScratchPath(const std::string& name) {
    std::filesystem::path dir = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                    : std::filesystem::temp_directory_path();
    path_ = (dir / ("lorastack-fuzz-" + std::to_string(::getpid()) + "-" + name)).string();
  }
  ~ScratchPath() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

/// Overwrite `path` with `size` bytes of `data`.
inline void write_file(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

/// Split `data` at the first `parts - 1` occurrences of `sep` (missing parts are empty).
inline std::vector<std::string_view> split(const uint8_t* data, size_t size, std::string_view sep, size_t parts) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    size_t at = all.find(sep);
    if (at == std::string_view::npos) break;
    out.push_back(all.substr(0, at));
    all.remove_prefix(at + sep.size());
  }
  out.push_back(all);
  while (out.size() < parts) out.push_back({});
  return out;
}

/// Read every element of a (possibly file-backed) tensor once, so that ASan sees any view outside its
/// buffer; small tensors only (the fuzzer's inputs are small).
inline double touch(const Tensor& t) {
  if (t.numel() == 0 || t.numel() > (1 << 20)) return 0;
  const auto* p = static_cast<const uint8_t*>(t.raw());
  double s = 0;
  for (size_t i = 0; i < t.nbytes(); ++i) s += p[i];
  return s;
}

}  // namespace ls::fuzz
