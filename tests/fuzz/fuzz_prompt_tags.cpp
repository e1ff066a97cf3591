// libFuzzer target: A1111 LoRA prompt tags (lorastack::extract_lora_tags) on arbitrary prompt bytes.
#include <cmath>

#include "fuzz_util.h"
#include "lorastack/lorastack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string prompt(reinterpret_cast<const char*>(data), size);
  try {
    auto tags = lorastack::extract_lora_tags(prompt);
    for (const auto& t : tags)
      if (t.path.empty() || !std::isfinite(t.unet_strength) || !std::isfinite(t.te_strength)) std::abort();
    if (!tags.empty() && prompt.size() > size) std::abort();
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
