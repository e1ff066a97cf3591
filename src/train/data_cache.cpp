#include "train/data_cache.h"

#include <filesystem>

#include "io/safetensors.h"

namespace ls::train {

namespace {
constexpr const char* kTag = "lorastack.latent_cache";
constexpr const char* kFingerprint = "lorastack.latent_cache.fingerprint";
}  // namespace

LatentCache::LatentCache(std::string path, std::string fingerprint)
    : path_(std::move(path)), fingerprint_(std::move(fingerprint)) {
  std::error_code ec;
  if (path_.empty() || !std::filesystem::exists(path_, ec)) return;
  try {
    io::TensorFile f = io::read_safetensors(path_);
    auto tag = f.metadata.find(kTag);
    auto fp = f.metadata.find(kFingerprint);
    if (tag == f.metadata.end()) {
      discarded_ = path_ + ": not a lorastack latent cache";
    } else if (fp == f.metadata.end() || fp->second != fingerprint_) {
      discarded_ = path_ + ": made for fingerprint '" + (fp == f.metadata.end() ? "" : fp->second) + "', not '" +
                   fingerprint_ + "'";
    } else {
      entries_ = std::move(f.tensors);
    }
  } catch (const Error& e) {
    discarded_ = e.what();
  }
}

bool LatentCache::contains(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.count(key) != 0;
}

std::optional<Tensor> LatentCache::get(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void LatentCache::put(const std::string& key, const Tensor& latent) {
  LS_CHECK(latent.defined(), "latent cache: undefined tensor for '{}'", key);
  LS_CHECK(key != "__metadata__" && !key.empty(), "latent cache: key '{}' is reserved", key);
  Tensor copy = latent.to_device(Device::CPU);
  if (copy.shares_storage(latent)) copy = latent.clone();
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[key] = std::move(copy);
  ++unsaved_;
}

size_t LatentCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

size_t LatentCache::unsaved() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return unsaved_;
}

void LatentCache::save() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (path_.empty() || unsaved_ == 0) return;
  io::write_safetensors(path_, entries_, {{kTag, "1"}, {kFingerprint, fingerprint_}});
  unsaved_ = 0;
}

}  // namespace ls::train
