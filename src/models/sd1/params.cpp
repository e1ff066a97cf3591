#include "models/sd1/params.h"

namespace ls::sd {

ParamTable make_param_table(const io::TensorFile& file, const std::string& component) {
  ParamTable table(component);
  for (const auto& [name, tensor] : file.tensors) {
    if (!dtype_is_float(tensor.dtype())) continue;
    table.add(name, tensor);
  }
  return table;
}

}  // namespace ls::sd
