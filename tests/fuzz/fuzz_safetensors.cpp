// libFuzzer target: io::parse_safetensors on arbitrary bytes (the header JSON, offsets, dtypes, shapes),
// then every tensor's bytes are read so that a view outside the input shows up under ASan.
#include <memory>

#include "fuzz_util.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // The input buffer is not ours: the owner is a no-op handle (tensors die before this call returns).
    std::shared_ptr<void> owner(const_cast<uint8_t*>(data), [](void*) {});
    ls::io::TensorFile f = ls::io::parse_safetensors(data, size, owner, "fuzz.safetensors");
    for (const auto& [name, t] : f.tensors) ls::fuzz::touch(t);
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
