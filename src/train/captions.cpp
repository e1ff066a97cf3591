#include "train/captions.h"

#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "runtime/error.h"

namespace ls::train {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF). `cp` receives the code point.
size_t utf8_at(std::string_view s, size_t i, char32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  if (b0 < 0x80) return cp = b0, 1;
  if ((b0 & 0xE0) == 0xC0) len = 2, cp = b0 & 0x1F;
  else if ((b0 & 0xF0) == 0xE0) len = 3, cp = b0 & 0x0F;
  else if ((b0 & 0xF8) == 0xF0) len = 4, cp = b0 & 0x07;
  else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace

DataRng::DataRng(uint64_t seed) {
  for (uint64_t& s : s_) s = splitmix64(seed);
}

DataRng DataRng::derive(uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t x = seed;
  uint64_t h = splitmix64(x);
  x = h ^ (a * 0xD6E8FEB86659FD93ull);
  h = splitmix64(x);
  x = h ^ (b * 0xA0761D6478BD642Full);
  return DataRng(splitmix64(x));
}

uint64_t DataRng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double DataRng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

uint64_t DataRng::below(uint64_t n) {
  if (n <= 1) return 0;
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n: values below it would bias the modulo
  for (;;) {
    const uint64_t r = next();
    if (r >= threshold) return r % n;
  }
}

std::string py_strip(std::string_view s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {
    char32_t cp;
    const size_t len = utf8_at(s, begin, cp);
    if (len == 0 || !py_space(cp)) break;
    begin += len;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && end - start < 4) --start;
    char32_t cp;
    const size_t len = utf8_at(s, start, cp);
    if (len != end - start || !py_space(cp)) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

std::vector<std::string> py_split(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  if (sep.empty()) return {std::string(s)};
  size_t at = 0;
  for (;;) {
    const size_t next = s.find(sep, at);
    if (next == std::string_view::npos) break;
    out.emplace_back(s.substr(at, next - at));
    at = next + sep.size();
  }
  out.emplace_back(s.substr(at));
  return out;
}

std::string py_lower(const std::string& s) {
  std::string out;
  icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())))
      .toLower(icu::Locale::getRoot())
      .toUTF8String(out);
  return out;
}

std::string process_caption(const std::string& caption, const CaptionOptions& o, int epoch, DataRng& rng) {
  bool drop = o.caption_dropout_rate > 0 && rng.uniform() < o.caption_dropout_rate;
  drop = drop || (o.caption_dropout_every_n_epochs > 0 && (epoch + 1) % o.caption_dropout_every_n_epochs == 0);
  if (drop) return "";
  if (!o.shuffle_caption && o.caption_tag_dropout_rate <= 0) return caption;
  std::vector<std::string> tokens = py_split(py_strip(caption), o.caption_separator);
  for (auto& t : tokens) t = py_strip(t);
  const size_t keep = o.keep_tokens > 0 ? std::min(tokens.size(), static_cast<size_t>(o.keep_tokens)) : 0;
  std::vector<std::string> fixed(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(keep));
  std::vector<std::string> flex(tokens.begin() + static_cast<std::ptrdiff_t>(keep), tokens.end());
  if (o.shuffle_caption) rng.shuffle(flex);
  std::string out;
  bool first = true;
  auto join = [&](const std::string& t) {
    if (!first) out += ", ";
    out += t;
    first = false;
  };
  for (const auto& t : fixed) join(t);
  for (const auto& t : flex)
    if (o.caption_tag_dropout_rate <= 0 || rng.uniform() >= o.caption_tag_dropout_rate) join(t);
  return out;
}

std::optional<std::string> read_caption_file(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(st)) return std::nullopt;
  if (!std::filesystem::is_regular_file(st)) fail("{}: caption path is not a regular file", path);
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail("{}: cannot read the caption file's size: {}", path, ec.message());
  if (size > (16u << 20)) fail("{}: caption file of {} bytes is over the 16 MB limit", path, size);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the caption file", path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("{}: cannot read the caption file", path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  for (size_t i = 0; i < text.size();) {
    char32_t cp;
    const size_t len = utf8_at(text, i, cp);
    if (len == 0) fail("{}: caption file is not valid UTF-8 (byte {} is 0x{:02x})", path, i, static_cast<unsigned char>(text[i]));
    i += len;
  }
  return py_strip(std::string_view(text).substr(0, text.find_first_of("\r\n")));
}

void TagFrequency::add_caption(const std::string& caption) {
  for (const std::string& piece : py_split(caption, ",")) {
    const std::string tag = py_strip(piece);
    if (tag.empty()) continue;
    const std::string key = py_lower(tag);
    auto [it, fresh] = index_.try_emplace(key, items_.size());
    if (fresh) items_.emplace_back(key, 0);
    ++items_[it->second].second;
  }
}

int64_t TagFrequency::count(const std::string& tag) const {
  auto it = index_.find(tag);
  return it == index_.end() ? 0 : items_[it->second].second;
}

}  // namespace ls::train
