// Format-specific halves of read_image / write_image (codecs.cpp). Internal to the image module.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image/image.h"

namespace ls::image::detail {

/// Decoded pixels plus the EXIF block the file carried (TIFF structure, possibly "Exif\0\0"-prefixed;
/// empty when none).
struct Decoded {
  Image image;
  std::vector<uint8_t> exif;
};

/// Decode a JPEG held in memory (`path` names it in errors). Pixels as stored (orientation not applied).
Decoded decode_jpeg(const std::vector<uint8_t>& file, const std::string& path);
/// Encode baseline JPEG at `quality` (1–100, 4:2:0, JFIF), with an APP1 "Exif\0\0" + `exif` segment when
/// `exif` is non-empty.
std::vector<uint8_t> encode_jpeg(const Image& img, int quality, const std::vector<uint8_t>& exif, const std::string& path);

/// Decode a still WebP held in memory (lossy or lossless; alpha dropped) and its EXIF chunk.
Decoded decode_webp(const std::vector<uint8_t>& file, const std::string& path);
/// Encode lossy WebP at `quality`; with an EXIF chunk (VP8X container) when `exif` is non-empty.
std::vector<uint8_t> encode_webp(const Image& img, int quality, const std::vector<uint8_t>& exif, const std::string& path);

/// Write `bytes` to `path` atomically (temp file + rename). Throws ls::Error naming the path.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace ls::image::detail
