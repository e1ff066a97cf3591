// File hashes the field uses to name models and adapters (OpenSSL SHA-256).
#pragma once

#include <string>

namespace ls::io {

/// Lower-case hex SHA-256 of the whole file (CivitAI AutoV2 = first 10 hex, A1111 "Model hash" too).
/// Throws ls::Error naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

/// A1111 / sd-webui-additional-networks "addnet" hash: SHA-256 of a safetensors file's bytes after the
/// 8-byte length and the JSON header (so editing metadata does not change it); for other files the
/// whole-file hash. A1111's LoRA short hash is its first 12 hex digits.
std::string addnet_hash(const std::string& path);

}  // namespace ls::io
