// The GPT-2 byte-level alphabet used by CLIP's BPE: every byte 0..255 stands for one printable Unicode
// character, so that BPE can work on strings of "characters" while covering arbitrary UTF-8 input.
//
// Source: OpenAI GPT-2 / CLIP `bytes_to_unicode()` (simple_tokenizer.py). The 188 printable bytes
// '!'..'~', '¡'..'¬', '®'..'ÿ' map to the code point of the same value; the other 68 bytes, in
// increasing order, map to U+0100, U+0101, ...
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ls::text {

/// The 256 bytes in alphabet order: the printable bytes ascending, then the remapped ones ascending.
/// CLIP's vocab.json gives the byte symbols ids 0..255 in exactly this order (and 256..511 to the
/// same symbols with "</w>" appended).
const std::array<uint8_t, 256>& byte_alphabet_order();

/// UTF-8 encoding of the character standing for byte `b` (e.g. 'a' -> "a", ' ' -> "Ġ" U+0120).
const std::string& byte_to_symbol(uint8_t b);

/// The byte a code point stands for, or -1 when `cp` is not one of the 256 alphabet characters.
int symbol_to_byte(char32_t cp);

}  // namespace ls::text
