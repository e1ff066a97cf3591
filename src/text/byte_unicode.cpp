#include "text/byte_unicode.h"

namespace ls::text {
namespace {

bool is_printable_byte(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

std::string utf8_of(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

struct Tables {
  std::array<uint8_t, 256> order{};
  std::array<char32_t, 256> cp_of_byte{};
  std::array<std::string, 256> symbol{};
  Tables() {
    int n = 0, extra = 0;
    for (int b = 0; b < 256; ++b)
      if (is_printable_byte(b)) { order[n++] = static_cast<uint8_t>(b); cp_of_byte[b] = static_cast<char32_t>(b); }
    for (int b = 0; b < 256; ++b)
      if (!is_printable_byte(b)) { order[n++] = static_cast<uint8_t>(b); cp_of_byte[b] = static_cast<char32_t>(0x100 + extra++); }
    for (int b = 0; b < 256; ++b) symbol[b] = utf8_of(cp_of_byte[b]);
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::array<uint8_t, 256>& byte_alphabet_order() { return tables().order; }

const std::string& byte_to_symbol(uint8_t b) { return tables().symbol[b]; }

int symbol_to_byte(char32_t cp) {
  if (cp < 0x100) return is_printable_byte(static_cast<int>(cp)) ? static_cast<int>(cp) : -1;
  if (cp < 0x100 + 68) return tables().order[188 + (cp - 0x100)];  // the k-th remapped byte
  return -1;
}

}  // namespace ls::text
