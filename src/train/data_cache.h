// A cache of VAE latents keyed by BatchItem::cache_key, in memory and optionally in one safetensors file
// (kohya-ss keeps <image>.npz files beside the images; one file in the output folder is enough here).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/tensor.h"

namespace ls::train {

/// Latents by key. The file is a safetensors file: tensor name = key, metadata
/// {"lorastack.latent_cache": "1", "lorastack.latent_cache.fingerprint": <fingerprint>}. Thread-safe.
class LatentCache {
 public:
  /// Memory-only when `path` is empty. Otherwise an existing file at `path` is opened (memory-mapped) and
  /// its entries reused when its fingerprint equals `fingerprint` (say, the VAE's hash, its scaling
  /// factor and the dtype: anything that changes the latents of the same pixels); a file with another
  /// fingerprint, or that is not a latent cache, is ignored and replaced at the next save(), with the
  /// reason in discarded(). A corrupt file is ignored the same way (never an error here).
  explicit LatentCache(std::string path = {}, std::string fingerprint = {});

  bool contains(const std::string& key) const;
  /// The latent stored under `key` (CPU; the dtype it was put with), or nullopt.
  std::optional<Tensor> get(const std::string& key) const;
  /// Store a CPU copy of `latent` (contiguous; any dtype) under `key`, replacing an earlier one.
  void put(const std::string& key, const Tensor& latent);
  size_t size() const;
  /// Entries put since the last save (or load).
  size_t unsaved() const;

  /// Write every entry to the file (atomically: temp + rename; readers of the old file keep their mapping).
  /// No-op for a memory-only cache or when nothing changed. Throws ls::Error naming the path on failure.
  void save();

  const std::string& path() const { return path_; }
  /// Why an existing file at path() was not reused ("" when it was, or when there was none).
  const std::string& discarded() const { return discarded_; }

 private:
  std::string path_, fingerprint_, discarded_;
  std::map<std::string, Tensor> entries_;
  size_t unsaved_ = 0;
  mutable std::mutex mutex_;
};

}  // namespace ls::train
