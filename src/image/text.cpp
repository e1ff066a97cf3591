#include "image/text.h"

#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "runtime/error.h"

namespace ls::image {

std::string label_font_path(const std::string& preferred) {
  if (!preferred.empty()) return preferred;
  if (const char* env = std::getenv("LORASTACK_FONT"); env && *env) return env;
  return kDefaultFont;
}

std::vector<char32_t> utf8_decode(const std::string& s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n = b < 0x80 ? 0 : (b >> 5) == 6 ? 1 : (b >> 4) == 14 ? 2 : (b >> 3) == 30 ? 3 : -1;
    char32_t cp = n == 0 ? b : n == 1 ? (b & 0x1f) : n == 2 ? (b & 0x0f) : (b & 0x07);
    bool ok = n >= 0;
    for (int k = 1; ok && k <= n; ++k) {
      if (i + static_cast<size_t>(k) >= s.size()) {
        ok = false;
        break;
      }
      const auto c = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((c >> 6) != 2) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    if (!ok || cp > 0x10ffff) {
      out.push_back(0xfffd);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<size_t>(n) + 1;
  }
  return out;
}

namespace {
std::string utf8_encode(const std::vector<char32_t>& cps, size_t from, size_t to) {
  std::string o;
  for (size_t i = from; i < to; ++i) {
    char32_t c = cps[i];
    if (c < 0x80) {
      o += static_cast<char>(c);
    } else if (c < 0x800) {
      o += static_cast<char>(0xc0 | (c >> 6));
      o += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      o += static_cast<char>(0xe0 | (c >> 12));
      o += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      o += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      o += static_cast<char>(0xf0 | (c >> 18));
      o += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      o += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      o += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return o;
}
}  // namespace

struct Font::Impl {
  FT_Library lib = nullptr;
  FT_Face face = nullptr;
  int px = 0;
  std::string path;
  ~Impl() {
    if (face) FT_Done_Face(face);
    if (lib) FT_Done_FreeType(lib);
  }
  /// Advance of `cp` (26.6 → pixels) after `prev` (kerning), loading without rendering.
  int advance(char32_t prev, char32_t cp) const {
    FT_UInt gi = FT_Get_Char_Index(face, cp);
    int kern = 0;
    if (prev && FT_HAS_KERNING(face)) {
      FT_Vector d;
      if (FT_Get_Kerning(face, FT_Get_Char_Index(face, prev), gi, FT_KERNING_DEFAULT, &d) == 0) kern = d.x;
    }
    if (FT_Load_Glyph(face, gi, FT_LOAD_DEFAULT) != 0) return kern >> 6;
    return static_cast<int>((face->glyph->advance.x + kern) >> 6);
  }
};

Font::Font(const std::string& path, int pixel_size) : impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    fail("font {}: no such file; install the Debian package fonts-dejavu-core (apt-get install fonts-dejavu-core), "
         "or name a .ttf with --font FILE or the LORASTACK_FONT environment variable",
         path);
  LS_CHECK(pixel_size >= 4 && pixel_size <= 512, "font {}: pixel size {} outside 4..512", path, pixel_size);
  if (FT_Init_FreeType(&impl_->lib) != 0) fail("font {}: FreeType failed to initialise", path);
  if (FT_New_Face(impl_->lib, path.c_str(), 0, &impl_->face) != 0)
    fail("font {}: FreeType cannot read it as a font (TrueType / OpenType expected)", path);
  if (FT_Set_Pixel_Sizes(impl_->face, 0, static_cast<FT_UInt>(pixel_size)) != 0)
    fail("font {}: cannot scale to {} pixels", path, pixel_size);
  impl_->px = pixel_size;
  impl_->path = path;
}

Font::~Font() = default;

int Font::pixel_size() const { return impl_->px; }
int Font::line_height() const { return static_cast<int>(impl_->face->size->metrics.height >> 6); }
int Font::ascent() const { return static_cast<int>(impl_->face->size->metrics.ascender >> 6); }

int Font::text_width(const std::string& utf8) const {
  int w = 0;
  char32_t prev = 0;
  for (char32_t c : utf8_decode(utf8)) {
    w += impl_->advance(prev, c);
    prev = c;
  }
  return w;
}

std::vector<std::string> Font::wrap(const std::string& utf8, int max_width) const {
  std::vector<std::string> lines;
  size_t start = 0;
  while (true) {  // paragraphs split at '\n'
    size_t nl = utf8.find('\n', start);
    std::vector<char32_t> cps = utf8_decode(utf8.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    size_t i = 0;
    if (cps.empty()) lines.emplace_back();
    while (i < cps.size()) {
      // greedy: take characters while they fit; break at the last space taken, else mid-word
      int w = 0;
      size_t j = i, last_space = std::string::npos;
      char32_t prev = 0;
      while (j < cps.size()) {
        int a = impl_->advance(prev, cps[j]);
        if (w + a > max_width && j > i) break;
        if (cps[j] == U' ') last_space = j;
        w += a;
        prev = cps[j];
        ++j;
      }
      size_t end = j;
      if (j < cps.size() && last_space != std::string::npos && last_space > i) end = last_space;
      size_t e = end;
      while (e > i && cps[e - 1] == U' ') --e;  // no trailing spaces
      lines.push_back(utf8_encode(cps, i, e));
      i = end;
      while (i < cps.size() && cps[i] == U' ') ++i;  // nor leading ones
    }
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

void Font::draw(Image& img, int x, int baseline_y, const std::string& utf8, std::array<uint8_t, 3> rgb) const {
  FT_Face face = impl_->face;
  int pen = x;
  char32_t prev = 0;
  for (char32_t c : utf8_decode(utf8)) {
    FT_UInt gi = FT_Get_Char_Index(face, c);
    if (prev && FT_HAS_KERNING(face)) {
      FT_Vector d;
      if (FT_Get_Kerning(face, FT_Get_Char_Index(face, prev), gi, FT_KERNING_DEFAULT, &d) == 0)
        pen += static_cast<int>(d.x >> 6);
    }
    prev = c;
    if (FT_Load_Glyph(face, gi, FT_LOAD_RENDER) != 0) continue;
    const FT_GlyphSlot g = face->glyph;
    const FT_Bitmap& bm = g->bitmap;
    if (bm.pixel_mode == FT_PIXEL_MODE_GRAY) {
      const int x0 = pen + g->bitmap_left, y0 = baseline_y - g->bitmap_top;
      for (unsigned r = 0; r < bm.rows; ++r) {
        const int y = y0 + static_cast<int>(r);
        if (y < 0 || y >= img.height) continue;
        const unsigned char* row = bm.buffer + static_cast<ptrdiff_t>(r) * bm.pitch;
        for (unsigned col = 0; col < bm.width; ++col) {
          const int px = x0 + static_cast<int>(col);
          if (px < 0 || px >= img.width || row[col] == 0) continue;
          const int a = row[col];
          uint8_t* p = &img.rgb[(static_cast<size_t>(y) * img.width + px) * 3];
          for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>((p[k] * (255 - a) + rgb[k] * a + 127) / 255);
        }
      }
    }
    pen += static_cast<int>(g->advance.x >> 6);
  }
}

}  // namespace ls::image
