// One entry point for reading a weights file of any supported container: safetensors (memory-mapped),
// PyTorch zip checkpoints (.ckpt/.pt/.pth/.bin written by torch.save ≥ 1.6) and legacy (pre-zip) pickle
// checkpoints. The container is recognised from the file content, not the extension.
#pragma once

#include <string>

#include "io/safetensors.h"

namespace ls::io {

/// Read `path` as a flat name → tensor map (tensors in their storage dtype, CPU). For pickle checkpoints the
/// state dict is taken from the "state_dict" entry when present, else from the top-level dict; non-tensor
/// entries (global_step, ...) are dropped. Throws ls::Error naming `path` when the file is missing, not a
/// regular file, in none of the supported containers, malformed, or (pickle) asks for anything but tensor
/// rebuilds.
TensorFile read_checkpoint(const std::string& path);

}  // namespace ls::io
