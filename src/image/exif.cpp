#include "image/exif.h"

#include <cstring>

namespace ls::image::exif {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decode one UTF-8 sequence at s[i]; advances i; invalid input (bad lead / continuation bytes, overlong
// forms, surrogates, > U+10FFFF) yields U+FFFD and consumes one byte.
char32_t next_code_point(const std::string& s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07;
  else {
    ++i;
    return kReplacement;
  }
  if (i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return kReplacement;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += static_cast<size_t>(len);
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string valid_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) append_utf8(out, next_code_point(s, i));
  return out;
}

// Bounds-checked reads of the TIFF structure in its byte order.
struct Tiff {
  const uint8_t* p;
  size_t n;
  bool le;
  bool u16(uint64_t off, uint32_t& v) const {
    if (off + 2 > n) return false;
    v = le ? (p[off] | p[off + 1] << 8) : (p[off] << 8 | p[off + 1]);
    return true;
  }
  bool u32(uint64_t off, uint32_t& v) const {
    if (off + 4 > n) return false;
    const uint8_t* q = p + off;
    v = le ? (uint32_t{q[0]} | uint32_t{q[1]} << 8 | uint32_t{q[2]} << 16 | uint32_t{q[3]} << 24)
           : (uint32_t{q[0]} << 24 | uint32_t{q[1]} << 16 | uint32_t{q[2]} << 8 | uint32_t{q[3]});
    return true;
  }
};

uint32_t type_size(uint32_t type) {
  switch (type) {
    case 1: case 2: case 6: case 7: return 1;
    case 3: case 8: return 2;
    case 4: case 9: case 11: case 13: return 4;
    case 5: case 10: case 12: return 8;
    default: return 0;
  }
}

// Calls f(tag, type, count, value_field_offset) for each entry of the IFD at `off` that fits the block.
template <typename F>
void walk_ifd(const Tiff& t, uint32_t off, F&& f) {
  uint32_t count = 0;
  if (!t.u16(off, count)) return;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t e = uint64_t{off} + 2 + uint64_t{i} * 12;
    uint32_t tag = 0, type = 0, n = 0;
    if (!t.u16(e, tag) || !t.u16(e + 2, type) || !t.u32(e + 4, n) || e + 12 > t.n) return;
    f(tag, type, n, e + 8);
  }
}

std::string decode_user_comment(const Tiff& t, const uint8_t* d, size_t n) {
  if (n < 8) return {};
  const std::string prefix(reinterpret_cast<const char*>(d), 8);
  std::string out;
  if (prefix == std::string("UNICODE\0", 8)) {
    d += 8;
    n -= 8;
    // Byte order: a byte-order mark when there is one; else the half of each unit that is more often zero
    // is the high byte (text is mostly ASCII / Latin); a tie (e.g. CJK) means big-endian, which is what
    // piexif (A1111) always writes and reads, whatever the TIFF's own order (Pillow's Exif writes "II").
    bool be = true;
    if (n >= 2 && d[0] == 0xFE && d[1] == 0xFF) {
      d += 2, n -= 2;
    } else if (n >= 2 && d[0] == 0xFF && d[1] == 0xFE) {
      be = false, d += 2, n -= 2;
    } else {
      size_t zero_even = 0, zero_odd = 0;
      for (size_t i = 0; i + 1 < n; i += 2) zero_even += d[i] == 0, zero_odd += d[i + 1] == 0;
      be = zero_even >= zero_odd;
    }
    std::u16string u;
    u.reserve(n / 2);
    for (size_t i = 0; i + 1 < n; i += 2)
      u += static_cast<char16_t>(be ? (d[i] << 8 | d[i + 1]) : (d[i + 1] << 8 | d[i]));
    while (!u.empty() && u.back() == 0) u.pop_back();
    out = utf16_to_utf8(u);
  } else {
    // "ASCII\0\0\0", undefined (8 NULs) or "JIS": the bytes, kept when they are UTF-8 (many writers
    // store UTF-8 under the ASCII code), invalid bytes replaced.
    out = valid_utf8(std::string(reinterpret_cast<const char*>(d + 8), n - 8));
  }
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

}  // namespace

std::u16string utf8_to_utf16(const std::string& s) {
  std::u16string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const char32_t cp = next_code_point(s, i);
    if (cp >= 0x10000) {
      out += static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10));
      out += static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

std::string utf16_to_utf8(const std::u16string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t cp = s[i];
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = kReplacement;
    }
    append_utf8(out, cp);
  }
  return out;
}

Info read_exif(const uint8_t* data, size_t size) {
  Info info;
  if (size >= 6 && std::memcmp(data, "Exif\0\0", 6) == 0) data += 6, size -= 6;
  if (size < 8) return info;
  Tiff t{data, size, false};
  if (data[0] == 'I' && data[1] == 'I') t.le = true;
  else if (!(data[0] == 'M' && data[1] == 'M')) return info;
  uint32_t magic = 0, ifd0 = 0;
  if (!t.u16(2, magic) || magic != 42 || !t.u32(4, ifd0)) return info;
  uint32_t exif_ifd = 0;
  walk_ifd(t, ifd0, [&](uint32_t tag, uint32_t type, uint32_t count, uint64_t value) {
    uint32_t v = 0;
    if (tag == 0x0112 && count >= 1 && (type == 3 || type == 4)) {
      if ((type == 3 ? t.u16(value, v) : t.u32(value, v)) && v >= 1 && v <= 8) info.orientation = static_cast<int>(v);
    } else if (tag == 0x8769 && count == 1 && (type == 4 || type == 13)) {
      if (t.u32(value, v)) exif_ifd = v;
    }
  });
  if (exif_ifd == 0 || exif_ifd == ifd0) return info;
  walk_ifd(t, exif_ifd, [&](uint32_t tag, uint32_t type, uint32_t count, uint64_t value) {
    if (tag != 0x9286 || type_size(type) != 1) return;
    uint64_t at = value;
    if (count > 4) {
      uint32_t off = 0;
      if (!t.u32(value, off)) return;
      at = off;
    }
    if (at + count > size) return;
    info.user_comment = decode_user_comment(t, data + at, count);
  });
  return info;
}

std::vector<uint8_t> user_comment_block(const std::string& comment) {
  const std::u16string u = utf8_to_utf16(comment);
  std::vector<uint8_t> b;
  b.reserve(44 + 8 + 2 * u.size());
  auto u16 = [&](uint32_t v) { b.push_back(static_cast<uint8_t>(v >> 8)); b.push_back(static_cast<uint8_t>(v)); };
  auto u32 = [&](uint32_t v) { u16(v >> 16); u16(v & 0xFFFF); };
  const uint32_t length = 8 + 2 * static_cast<uint32_t>(u.size());
  for (uint8_t c : {uint8_t{'M'}, uint8_t{'M'}, uint8_t{0}, uint8_t{42}}) b.push_back(c);
  u32(8);                                      // IFD0 at 8
  u16(1); u16(0x8769); u16(4); u32(1); u32(26);  // ExifIFDPointer → 26
  u32(0);                                      // no IFD1
  u16(1); u16(0x9286); u16(7); u32(length); u32(44);  // UserComment, UNDEFINED × length at 44
  u32(0);
  for (char c : std::string("UNICODE\0", 8)) b.push_back(static_cast<uint8_t>(c));
  for (char16_t c : u) u16(c);
  return b;
}

}  // namespace ls::image::exif
