// Text on 8-bit RGB images, rendered with FreeType (anti-aliased grey glyphs blended over the pixels), for the
// labels of comparison grids (grid.h). Fonts come from the system: the default is Debian's DejaVu Sans
// (package fonts-dejavu-core), overridable with the environment variable LORASTACK_FONT or a path.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image/image.h"

namespace ls::image {

/// Debian's DejaVu Sans: /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf (package fonts-dejavu-core).
inline constexpr const char* kDefaultFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// The label font to use: `preferred` when not empty, else $LORASTACK_FONT when set, else kDefaultFont.
std::string label_font_path(const std::string& preferred = "");

/// Unicode code points of UTF-8 text; malformed bytes become U+FFFD (never throws).
std::vector<char32_t> utf8_decode(const std::string& text);

/// A TrueType / OpenType face at one pixel size. Not copyable; not thread-safe (one FreeType library per font).
class Font {
 public:
  /// Open `path` at `pixel_size` (em height in pixels, 4..512). Throws ls::Error naming the path when the file
  /// is missing (with the Debian package to install) or FreeType cannot read it.
  Font(const std::string& path, int pixel_size);
  ~Font();
  Font(const Font&) = delete;
  Font& operator=(const Font&) = delete;

  int pixel_size() const;
  /// Distance between baselines of consecutive lines, pixels.
  int line_height() const;
  /// Height above the baseline of the tallest glyphs, pixels.
  int ascent() const;
  /// Advance width of one line of UTF-8 text (kerning included), pixels.
  int text_width(const std::string& utf8) const;
  /// Break `utf8` into lines at most `max_width` pixels wide: at spaces, and inside words longer than a line.
  /// Explicit '\n' starts a new line. Never returns an empty vector for non-empty text.
  std::vector<std::string> wrap(const std::string& utf8, int max_width) const;
  /// Draw one line with its baseline at `baseline_y`, starting at `x` (pixels; clipped to the image),
  /// blending `rgb` over the image with the glyph coverage as alpha.
  void draw(Image& img, int x, int baseline_y, const std::string& utf8, std::array<uint8_t, 3> rgb) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ls::image
