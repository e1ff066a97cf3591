// PyTorch checkpoints (torch.save output) read without executing anything: the pickle is interpreted by the
// restricted unpickler of io/pickle.h, which only rebuilds tensors and plain containers.
//
// Zip form (torch ≥ 1.6): `<archive>/data.pkl` (the pickled object, storages as persistent ids
// ('storage', torch.XStorage, key, location, numel)), `<archive>/data/<key>` raw little-endian storages,
// `<archive>/byteorder` ("little"). Legacy form: consecutive pickles magic number 0x1950a86a20f9469cfc6c,
// protocol version 1001, sys info {little_endian, ...}, the object, the list of storage keys; then for each
// key an 8-byte little-endian element count followed by the raw elements.
// Reference: torch/serialization.py (read as reference).
#pragma once

#include <string>

#include "io/safetensors.h"

namespace ls::io {

/// Read a zip-form PyTorch checkpoint. Tensors are CPU tensors in their storage dtype (sharing the storage
/// buffer they were read into). Only contiguous tensors are accepted. Zip bombs are refused: every entry's
/// declared size is checked against the file size before anything is inflated, and reads must deliver
/// exactly the declared size. Throws ls::Error naming `path` (and the entry / key) on any problem.
TensorFile read_torch_zip(const std::string& path);

/// Read a legacy (non-zip, torch < 1.6) pickle checkpoint; same result and errors as read_torch_zip.
TensorFile read_torch_legacy(const std::string& path);

}  // namespace ls::io
