// libFuzzer target: io::read_checkpoint (content sniffing, then PyTorch zip / legacy pickle / safetensors)
// on arbitrary file contents, written to a scratch file each run (the readers take paths).
#include "fuzz_util.h"
#include "io/weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ls::fuzz::ScratchPath path("ckpt.bin");
  ls::fuzz::write_file(path.str(), data, size);
  try {
    ls::io::TensorFile f = ls::io::read_checkpoint(path.str());
    for (const auto& [name, t] : f.tensors) ls::fuzz::touch(t);
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
