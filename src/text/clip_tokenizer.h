// CLIP byte-level BPE tokenizer (the text front end of SD1.x / SD2.x / SDXL text encoders).
//
// Behaviour matches transformers' CLIPTokenizer (tokenizers backend) loaded from vocab.json + merges.txt
// (pinned by /work/shared/refsuite/tokenizer/cases.json):
//   1. the exact special tokens "<|startoftext|>" / "<|endoftext|>" are cut out of the raw text first
//      (case-sensitive) and become their ids;
//   2. each remaining segment is normalised (clip_normalize.h: NFC, whitespace runs -> ' ', lower-case);
//   3. pre-tokenised into words (clip_pretokenize.h);
//   4. each word's UTF-8 bytes become byte symbols (byte_unicode.h), "</w>" is appended to the last one,
//      and BPE merges are applied lowest rank first (leftmost first on ties) until none applies.
// No HTML un-escaping, no ftfy, no full-width folding; prompt syntax like "(x:1.2)" is tokenised literally.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/clip_pretokenize.h"

namespace ls::text {

/// Immutable after construction apart from an internal word cache guarded by a mutex: encode/decode
/// may be called from several threads at once. Movable, not copyable.
class ClipTokenizer {
 public:
  /// Load `dir`/vocab.json and `dir`/merges.txt.
  /// vocab.json: a JSON object token -> integer id in [0, 2^31); it must contain the 256 byte symbols,
  /// their "</w>" forms, "<|startoftext|>" and "<|endoftext|>"; ids must be distinct.
  /// merges.txt: an optional first line "#version..." then one rule "left right" per line in priority
  /// order (blank lines ignored); both sides and their concatenation must be in the vocabulary. An empty
  /// rule list is valid (pure byte-level tokenizer, see write_byte_tokenizer).
  /// Files over 64 MiB are refused. Throws ls::Error naming the file, line / key and value on any problem.
  explicit ClipTokenizer(const std::string& dir);

  /// Build from the contents of the two files; `vocab_name` / `merges_name` are used in error messages.
  ClipTokenizer(std::string_view vocab_json, std::string_view merges_txt, const std::string& vocab_name,
                const std::string& merges_name);

  ~ClipTokenizer();
  ClipTokenizer(ClipTokenizer&&) noexcept;
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept;

  /// Token ids of `text` (UTF-8) without BOS/EOS and without truncation. Any byte string is accepted:
  /// invalid UTF-8 is replaced by U+FFFD (one per maximal ill-formed subsequence) before tokenising.
  std::vector<int> encode(const std::string& text) const;

  /// The text-encoder input: BOS + the first max_len-2 tokens of encode(text) + EOS, right-padded to
  /// exactly `max_len` ids with `pad_id` (-1 means EOS: SD1 / CLIP ViT-L; SD2's OpenCLIP pads with 0).
  /// Throws ls::Error if max_len < 2.
  std::vector<int64_t> encode_padded(const std::string& text, int max_len = 77, int pad_id = -1) const;

  /// Text of `ids`: byte symbols mapped back to bytes, "</w>" read as a space, ends trimmed. BOS/EOS
  /// are dropped when `skip_special` (else written as their token text). Bytes that do not form valid
  /// UTF-8 are returned as is. Throws ls::Error for an id outside the vocabulary.
  std::string decode(const std::vector<int>& ids, bool skip_special = true) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const;

  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  /// Largest id + 1 (49408 for CLIP ViT-L/14; 514 for a byte-level-only tokenizer).
  int vocab_size() const { return static_cast<int>(id_to_token_.size()); }
  /// Number of merge rules loaded.
  size_t num_merges() const { return merges_.size(); }
  /// Token text of `id` ("" for an unused id); throws ls::Error when out of range.
  const std::string& token(int id) const;

 private:
  struct Merge {
    int rank;
    int id;  // id of the merged symbol
  };
  static uint64_t pair_key(int left, int right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  void load(std::string_view vocab_json, std::string_view merges_txt, const std::string& vocab_name,
            const std::string& merges_name);
  void encode_segment(std::string_view text, std::vector<int>& out) const;
  void bpe_word(std::string_view word, std::vector<int>& out) const;
  std::vector<int> bpe_uncached(std::string_view word) const;

  std::unordered_map<std::string, int> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank, merged id
  int byte_id_[256] = {};                       // id of byte symbol b
  int byte_eow_id_[256] = {};                   // id of byte symbol b + "</w>"
  int bos_id_ = -1, eos_id_ = -1;
  ClipPreTokenizer pretok_;

  struct WordCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int>> ids;  // word -> BPE ids
  };
  std::unique_ptr<WordCache> cache_ = std::make_unique<WordCache>();
};

}  // namespace ls::text
