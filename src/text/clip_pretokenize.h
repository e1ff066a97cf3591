// Pre-tokenisation of the CLIP tokenizer: splitting normalised text into the words BPE runs on.
//
// Reference (transformers' CLIPTokenizer, tokenizers backend):
//   pre_tokenizers.Sequence([Split(Regex(CLIP pattern), behavior="removed", invert=True),
//                            ByteLevel(add_prefix_space=False)])   # ByteLevel's use_regex defaults to True
// CLIP pattern: <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (matches are kept, the whitespace between them is dropped; each digit is its own word). ByteLevel then
// splits every piece again with the GPT-2 pattern; that only changes the literal pieces "<|startoftext|>" /
// "<|endoftext|>" (-> "<|", "startoftext", "|>"), which reach it only when the prompt spells them in a
// case other than the special tokens (the exact special tokens are cut out of the raw text beforehand).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

namespace ls::text {

/// Compiled CLIP pre-tokenisation patterns (PCRE2, UTF + UCP). Immutable after construction, so one
/// instance may be used from several threads. Throws ls::Error if PCRE2 rejects a pattern (a build problem).
class ClipPreTokenizer {
 public:
  ClipPreTokenizer();
  ~ClipPreTokenizer();
  ClipPreTokenizer(ClipPreTokenizer&&) noexcept;
  ClipPreTokenizer& operator=(ClipPreTokenizer&&) noexcept;

  /// Split `normalized` (valid UTF-8, output of clip_normalize) into words; the views point into
  /// `normalized`. Whitespace never appears in a word.
  std::vector<std::string_view> split(std::string_view normalized) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ls::text
