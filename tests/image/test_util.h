// Shared by the image and training-data tests: deterministic pictures and a scratch folder.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "image/image.h"

namespace ls::testing {

/// The test pattern of tests/image/make_reference.py pattern(): sharp, wrapping ramps.
inline image::Image pattern(int w, int h) {
  image::Image im{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        im.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>((x * 7 + y * 13 + c * 50 + ((x * y) % 17) * 5 + ((x ^ y) & 15) * 3) % 256);
  return im;
}

/// make_reference.py smooth(): 128 + 100·sin(x/9 + c)·cos(y/7 − c), for the lossy codecs.
inline image::Image smooth(int w, int h) {
  image::Image im{w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        im.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>(std::lround(128 + 100 * std::sin(x / 9.0 + c) * std::cos(y / 7.0 - c)));
  return im;
}

/// A solid colour.
inline image::Image solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  image::Image im{w, h, {}};
  for (int i = 0; i < w * h; ++i) im.rgb.insert(im.rgb.end(), {r, g, b});
  return im;
}

/// Largest and mean absolute channel difference of two same-sized images (255 and 255 when sizes differ).
struct Diff {
  int max = 0;
  double mean = 0;
};
inline Diff diff(const image::Image& a, const image::Image& b) {
  if (a.width != b.width || a.height != b.height || a.rgb.size() != b.rgb.size()) return {255, 255};
  Diff d;
  for (size_t i = 0; i < a.rgb.size(); ++i) {
    const int e = std::abs(int{a.rgb[i]} - int{b.rgb[i]});
    d.max = std::max(d.max, e);
    d.mean += e;
  }
  d.mean /= static_cast<double>(a.rgb.size());
  return d;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}


}  // namespace ls::testing
