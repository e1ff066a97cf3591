// Captions of a training set, the way kohya-ss sd-scripts handles them (library/train_util.py: read_caption,
// BaseDataset.process_caption, set_tag_frequency), and the seeded random source of the data pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ls::train {

/// The data pipeline's random numbers: xoshiro256** (Blackman & Vigna 2018) seeded through SplitMix64, with
/// its own uniform / bounded-integer / shuffle so that a seed gives the same sequence on every platform and
/// standard library (std::uniform_*_distribution and std::shuffle are implementation-defined).
class DataRng {
 public:
  explicit DataRng(uint64_t seed);
  /// The generator for one (seed, epoch, batch) cell: batches can be produced in any order (resume).
  static DataRng derive(uint64_t seed, uint64_t a, uint64_t b = ~uint64_t{0});
  uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform in [0, n) (n ≥ 1), unbiased (rejection).
  uint64_t below(uint64_t n);
  /// Fisher–Yates: for i = n−1 … 1 swap v[i] with v[below(i + 1)].
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(below(i))]);
  }

 private:
  uint64_t s_[4];
};

/// kohya-ss caption options (argument names of train_network.py).
struct CaptionOptions {
  bool shuffle_caption = false;        ///< --shuffle_caption: shuffle the tags after the first keep_tokens
  int keep_tokens = 0;                 ///< --keep_tokens: leading tags kept in place (and never dropped)
  std::string caption_separator = ",";  ///< --caption_separator: what splits a caption into tags
  double caption_dropout_rate = 0;     ///< --caption_dropout_rate: chance that the whole caption becomes ""
  int caption_dropout_every_n_epochs = 0;  ///< --caption_dropout_every_n_epochs: "" in every n-th epoch
  double caption_tag_dropout_rate = 0;  ///< --caption_tag_dropout_rate: chance of dropping each non-kept tag
};

/// One epoch's version of a caption (kohya process_caption without wildcards / prefixes / token warm-up):
///  1. dropped entirely ("") with probability caption_dropout_rate, or when (epoch + 1) is a multiple of
///     caption_dropout_every_n_epochs (`epoch` is 0-based here; kohya counts epochs from 1);
///  2. else only when shuffle_caption or caption_tag_dropout_rate > 0: split on caption_separator, each tag
///     stripped (empty tags are kept, as in kohya), the first keep_tokens kept in front, the rest shuffled
///     (if shuffle_caption) then each dropped with probability caption_tag_dropout_rate, joined with ", ".
/// Draws from `rng` in that order (dropout draw only when its rate > 0).
std::string process_caption(const std::string& caption, const CaptionOptions& options, int epoch, DataRng& rng);

/// Read a caption file as kohya-ss does: the first line (up to \n, \r or \r\n), whitespace-stripped; a
/// UTF-8 byte-order mark is removed (kohya would keep it as part of the first tag). std::nullopt when the
/// file does not exist. An empty file gives "" (kohya refuses it). Throws ls::Error naming the file when it
/// cannot be read, is over 16 MB, or is not valid UTF-8 (kohya fails there too).
std::optional<std::string> read_caption_file(const std::string& path);

/// Python's str.strip(): remove leading / trailing Unicode whitespace (str.isspace: ASCII \t\n\v\f\r and
/// space, \x1c–\x1f, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000).
std::string py_strip(std::string_view s);

/// Python's str.split(sep) for a non-empty literal separator (every piece kept, empty ones too).
std::vector<std::string> py_split(std::string_view s, std::string_view sep);

/// Python's str.lower() on UTF-8 (ICU full lower-case mapping, root locale; invalid bytes → U+FFFD).
std::string py_lower(const std::string& s);

/// Tag counts of one folder in first-seen order, as kohya set_tag_frequency makes them for
/// ss_tag_frequency: each caption split on "," (always a comma), tags stripped and lower-cased, empty
/// tags skipped; every image counts once (repeats do not multiply).
class TagFrequency {
 public:
  void add_caption(const std::string& caption);
  const std::vector<std::pair<std::string, int64_t>>& items() const { return items_; }
  int64_t count(const std::string& tag) const;

 private:
  std::vector<std::pair<std::string, int64_t>> items_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace ls::train
