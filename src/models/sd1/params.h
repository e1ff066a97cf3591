// Building a model component's ParamTable from a loaded tensor file.
#pragma once

#include <string>

#include "io/safetensors.h"
#include "runtime/module.h"

namespace ls::sd {

/// A ParamTable named `component` ("unet", "vae", "text_encoder") holding every floating-point tensor
/// of `file` under its own name (diffusers / transformers names expected). Non-float tensors (e.g. the
/// I64 `text_model.embeddings.position_ids` buffer) are skipped. Values are converted to F32
/// (ParamTable::add); `base` keeps the file's storage (mmapped, F16 ...).
///
/// Models built on the table keep `Param*` into it: construct the model after the table has reached its
/// final place (the returned table may be moved into place; std::map nodes do not move) and keep the
/// table alive and un-copied as long as the model is used.
ParamTable make_param_table(const io::TensorFile& file, const std::string& component);

}  // namespace ls::sd
