// Text normalisation of the CLIP tokenizer, as transformers' CLIPTokenizer (tokenizers backend) does it:
// normalizers.Sequence([NFC(), Replace(Regex(r"\s+"), " "), Lowercase()]).
#pragma once

#include <string>
#include <string_view>

namespace ls::text {

/// Whether `cp` is whitespace for the CLIP tokenizer: the Unicode White_Space set, i.e. U+0009..U+000D,
/// U+0085 and the separators (general category Z: space, NBSP, U+2000..U+200A, U+2028/9, U+3000 ...).
/// Zero-width space U+200B (category Cf) is not whitespace. This is Oniguruma's Unicode `\s`, the regex
/// engine of the reference (HF tokenizers).
bool is_clip_space(char32_t cp);

/// Normalise UTF-8 `text`: Unicode NFC, every run of whitespace (is_clip_space) replaced by one ' ',
/// then full lower-casing of each code point on its own (Unicode default mapping, root locale, no
/// context: 'Σ' always becomes 'σ', as Rust's char::to_lowercase in the reference).
/// Ends are not trimmed here: the pre-tokenizer drops whitespace.
/// Invalid UTF-8 (stray bytes, overlong forms, encoded surrogates, truncated sequences) is replaced
/// by U+FFFD per maximal invalid subsequence (ICU's behaviour, like Python's errors="replace"), so
/// any byte string is accepted. The result is valid UTF-8.
std::string clip_normalize(std::string_view text);

}  // namespace ls::text
