#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/clip_pretokenize.h"

#include <pcre2.h>

#include "runtime/error.h"

namespace ls::text {
namespace {

// `\s` spelled out as Oniguruma's Unicode \s (White_Space: U+0009..U+000D, U+0085, category Z) rather than
// PCRE2's, which also includes U+180E; this keeps the pattern in line with is_clip_space().
constexpr const char* kClipPattern =
    R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\t-\r\x{85}\p{Z}\p{L}\p{N}]+)";
// GPT-2 pattern of the ByteLevel pre-tokenizer (tokenizers' byte_level.rs).
constexpr const char* kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
using CodePtr = std::unique_ptr<pcre2_code, CodeDeleter>;
using MatchPtr = std::unique_ptr<pcre2_match_data, MatchDeleter>;

CodePtr compile(const char* pattern) {
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &err, &err_offset, nullptr);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    fail("PCRE2: cannot compile tokenizer pattern at offset {}: {}", err_offset, reinterpret_cast<const char*>(msg));
  }
  return CodePtr(code);
}

// Calls on_piece(begin, end, matched) for every match and, if keep_gaps, every unmatched gap, in order.
template <typename F>
void scan(const pcre2_code* code, pcre2_match_data* md, std::string_view s, bool keep_gaps, F&& on_piece) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos < s.size()) {
    int rc = pcre2_match(code, subject, s.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      fail("PCRE2: tokenizer pattern match failed at byte {}: {}", pos, reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (keep_gaps && b > pos) on_piece(pos, b);
    if (e == b) {  // no alternative can match empty; guard against an endless loop anyway
      ++pos;
      while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    on_piece(b, e);
    pos = e;
  }
  if (keep_gaps && pos < s.size()) on_piece(pos, s.size());
}

}  // namespace

struct ClipPreTokenizer::Impl {
  CodePtr clip = compile(kClipPattern);
  CodePtr byte_level = compile(kByteLevelPattern);
};

ClipPreTokenizer::ClipPreTokenizer() : impl_(std::make_unique<Impl>()) {}
ClipPreTokenizer::~ClipPreTokenizer() = default;
ClipPreTokenizer::ClipPreTokenizer(ClipPreTokenizer&&) noexcept = default;
ClipPreTokenizer& ClipPreTokenizer::operator=(ClipPreTokenizer&&) noexcept = default;

std::vector<std::string_view> ClipPreTokenizer::split(std::string_view normalized) const {
  std::vector<std::string_view> words;
  // One match block per (nested) scan; neither pattern has capture groups.
  MatchPtr md(pcre2_match_data_create(1, nullptr)), md_inner(pcre2_match_data_create(1, nullptr));
  if (!md || !md_inner) fail("PCRE2: out of memory creating match data");
  scan(impl_->clip.get(), md.get(), normalized, /*keep_gaps=*/false, [&](size_t b, size_t e) {
    std::string_view piece = normalized.substr(b, e - b);
    // ByteLevel's split (behaviour "isolated": gaps kept too) of each piece.
    scan(impl_->byte_level.get(), md_inner.get(), piece, /*keep_gaps=*/true,
         [&](size_t pb, size_t pe) { words.push_back(piece.substr(pb, pe - pb)); });
  });
  return words;
}

}  // namespace ls::text
