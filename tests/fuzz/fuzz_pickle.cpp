// libFuzzer target: the restricted unpickler (io/pickle.h) on arbitrary bytes: consecutive pickles are
// loaded as a legacy checkpoint does, and each root is searched for a state dict.
#include "fuzz_util.h"
#include "io/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ls::io::Unpickler up(data, size, "fuzz.pkl");
    for (int i = 0; i < 8 && up.position() < size; ++i) {
      const ls::io::PickleObject* root = up.load();
      if (root->kind == ls::io::PickleObject::Kind::Dict) {
        for (const auto& [key, t] : ls::io::pickle_state_dict_tensors(root, "fuzz.pkl"))
          if (t->storage == nullptr || t->shape.size() != t->stride.size()) std::abort();
      }
    }
    (void)up.storages();
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
