// safetensors files: read (memory-mapped, bounds-checked) and write.
//
// Format (https://github.com/huggingface/safetensors): u64 little-endian header length N, N bytes of
// JSON {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}},
// then the data area; offsets are relative to the first byte after the header.
#pragma once

#include <map>
#include <string>

#include "runtime/tensor.h"

namespace ls::io {

/// Named tensors plus the file's string metadata. Tensors keep their on-disk dtype and, when read from a
/// file, view the memory-mapped file (no copy); the mapping lives as long as any tensor does.
struct TensorFile {
  std::string path;                               ///< for error messages ("" when built in memory)
  std::map<std::string, Tensor> tensors;          ///< name → tensor (storage dtype)
  std::map<std::string, std::string> metadata;    ///< "__metadata__" (safetensors) or empty

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  /// The tensor `name`; throws ls::Error "<path>: no tensor '<name>'".
  const Tensor& get(const std::string& name) const;
};

/// Read a safetensors file by memory-mapping it. Every header field is validated (header length within
/// the file and ≤ 100 MB, JSON well-formed and shallow, known dtypes, dtype × shape = byte length, offsets
/// inside the data area, in order and not overlapping, unique names). Throws ls::Error naming the file,
/// the tensor key and the offending value.
TensorFile read_safetensors(const std::string& path);

/// Parse safetensors bytes already in memory (used by the fuzzer; `owner` keeps `data` alive).
TensorFile parse_safetensors(const void* data, size_t size, std::shared_ptr<void> owner, const std::string& name);

/// Write `tensors` (any dtypes, CPU) with `metadata` to `path` (atomically: temp file + rename).
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace ls::io
