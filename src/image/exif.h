// EXIF (TIFF-structured) blocks: the two tags lorastack reads (Orientation, UserComment) and the
// one-tag block A1111 writes (UserComment, via piexif). Internal to the image module.
//
// Layout (EXIF 2.32, CIPA DC-008, §4.5–4.6): "II" or "MM" byte order, 42, offset of IFD0; IFD = u16 count,
// count × 12-byte entries (u16 tag, u16 type, u32 count, u32 value-or-offset), u32 next-IFD offset.
// Offsets are relative to the start of the TIFF header. Orientation is tag 0x0112 in IFD0; the Exif IFD
// is pointed to by tag 0x8769; UserComment is tag 0x9286 there (8-byte character-code prefix + text).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ls::image::exif {

/// What read_exif found; absent tags leave the defaults.
struct Info {
  int orientation = 1;       ///< 1–8; 1 when absent or out of range
  std::string user_comment;  ///< decoded to UTF-8 (trailing NULs removed); "" when absent
};

/// Parse an EXIF block: the TIFF structure, optionally preceded by "Exif\0\0" (a JPEG APP1 payload, or a
/// WebP EXIF chunk as some writers store it). Never throws: anything malformed (offsets out of range,
/// loops, wrong types) is skipped and the defaults stay.
Info read_exif(const uint8_t* data, size_t size);

/// A big-endian TIFF block (no "Exif\0\0" prefix) holding IFD0 → Exif IFD → UserComment = "UNICODE\0" +
/// UTF-16BE of `comment` (invalid UTF-8 becomes U+FFFD), as piexif.dump of
/// {"Exif": {UserComment: piexif.helper.UserComment.dump(comment, encoding="unicode")}} does.
std::vector<uint8_t> user_comment_block(const std::string& comment);

/// UTF-8 → UTF-16 code units (invalid sequences → U+FFFD).
std::u16string utf8_to_utf16(const std::string& s);
/// UTF-16 code units → UTF-8 (unpaired surrogates → U+FFFD).
std::string utf16_to_utf8(const std::u16string& s);

}  // namespace ls::image::exif
