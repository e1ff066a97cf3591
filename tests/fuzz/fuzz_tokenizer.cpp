// libFuzzer target: the CLIP tokenizer. The input is "<vocab.json>\0<merges.txt>\0<prompt>":
// the tokenizer is built from the first two parts (text::ClipTokenizer's in-memory constructor) and the
// prompt encoded (raw, padded to 77, decoded back). An input without the two separators is a prompt for a
// fixed valid tokenizer (byte-level vocabulary plus a few merges), so prompt bytes get fuzzed on their own.
#include "fuzz_util.h"
#include <cstring>
#include <nlohmann/json.hpp>

#include "text/clip_tokenizer.h"
#include "text/tokenizer_files.h"

namespace {

void exercise(const ls::text::ClipTokenizer& tok, const std::string& prompt) {
  auto ids = tok.encode(prompt);
  for (int id : ids)
    if (id < 0 || id >= tok.vocab_size()) std::abort();
  auto padded = tok.encode_padded(prompt, 77, -1);
  if (padded.size() != 77) std::abort();
  (void)tok.decode(ids, true);
  (void)tok.decode(padded, false);
}

/// A small valid tokenizer: the byte-level vocabulary of text/tokenizer_files.h plus the merges "t h" and
/// "th e</w>".
const ls::text::ClipTokenizer& fixed_tokenizer() {
  static const ls::text::ClipTokenizer tok = [] {
    ls::fuzz::ScratchPath dir("tokenizer");
    ls::text::write_byte_tokenizer(dir.str());
    auto vocab = nlohmann::ordered_json::parse(ls::text::read_text_file(dir.str() + "/vocab.json"));
    vocab["th"] = 514;
    vocab["the</w>"] = 515;
    return ls::text::ClipTokenizer(vocab.dump(), "#version: 0.2\nt h\nth e</w>\n", "vocab.json", "merges.txt");
  }();
  return tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = ls::fuzz::split(data, size, std::string_view("\0", 1), 3);
  try {
    if (size == 0 || std::memchr(data, 0, size) == nullptr) {
      exercise(fixed_tokenizer(), std::string(parts[0]));
    } else {
      ls::text::ClipTokenizer tok(parts[0], parts[1], "vocab.json", "merges.txt");
      exercise(tok, std::string(parts[2]));
    }
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
