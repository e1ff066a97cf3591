// Resampling and geometry on 8-bit RGB images.
//
// resize is separable: a horizontal pass into a float buffer (for Lanczos rounded and clipped to 8 bits, as
// Pillow's intermediate image is), then a vertical pass rounded to 8 bits. Each output index has a
// precomputed list of (first source index, weights) that sum to 1.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "image/image.h"

namespace ls::image {

namespace {

struct Taps {
  std::vector<int> first;     // first source index per output index
  std::vector<int> count;     // number of taps per output index
  std::vector<size_t> at;     // offset of its weights in `w`
  std::vector<float> w;
};

// Area (cv2.INTER_AREA when shrinking): output i covers source [i·s, (i+1)·s), s = in/out; each source
// pixel j weighs |[j, j+1) ∩ that interval| / s.
Taps area_taps(int in, int out) {
  Taps t;
  const double s = static_cast<double>(in) / out;
  for (int i = 0; i < out; ++i) {
    const double x0 = i * s, x1 = std::min<double>(in, (i + 1) * s);
    const int j0 = static_cast<int>(std::floor(x0));
    const int j1 = std::min(in, static_cast<int>(std::ceil(x1)));
    t.first.push_back(j0);
    t.at.push_back(t.w.size());
    double sum = 0;
    for (int j = j0; j < j1; ++j) sum += std::min<double>(x1, j + 1) - std::max<double>(x0, j);
    for (int j = j0; j < j1; ++j)
      t.w.push_back(static_cast<float>((std::min<double>(x1, j + 1) - std::max<double>(x0, j)) / sum));
    t.count.push_back(j1 - j0);
  }
  return t;
}

double lanczos3(double x) {
  if (x == 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const double px = std::numbers::pi * x;
  return 3 * std::sin(px) * std::sin(px / 3) / (px * px);
}

// Lanczos a = 3 (PIL ImagingResample: support widened by the scale when shrinking, centres at
// (i + 0.5)·s, weights normalised to sum 1).
Taps lanczos_taps(int in, int out) {
  Taps t;
  const double s = static_cast<double>(in) / out;
  const double fs = std::max(s, 1.0);
  const double support = 3 * fs;
  for (int i = 0; i < out; ++i) {
    const double center = (i + 0.5) * s;
    const int j0 = std::max(0, static_cast<int>(std::floor(center - support + 0.5)));
    const int j1 = std::min(in, static_cast<int>(std::floor(center + support + 0.5)));
    std::vector<double> ws;
    double sum = 0;
    for (int j = j0; j < j1; ++j) {
      ws.push_back(lanczos3((j + 0.5 - center) / fs));
      sum += ws.back();
    }
    t.first.push_back(j0);
    t.at.push_back(t.w.size());
    t.count.push_back(j1 - j0);
    for (double v : ws) t.w.push_back(static_cast<float>(sum != 0 ? v / sum : 0));
  }
  return t;
}

Image same_size_copy(const Image& img, int w, int h) {
  Image out;
  out.width = w;
  out.height = h;
  out.rgb.resize(static_cast<size_t>(w) * h * 3);
  return out;
}

void check_image(const Image& img, const char* what) {
  LS_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == static_cast<size_t>(img.width) * img.height * 3,
           "{}: image buffer does not match {}x{}", what, img.width, img.height);
}

}  // namespace

Image resize(const Image& img, int width, int height, Filter filter) {
  check_image(img, "resize");
  LS_CHECK(width >= 1 && height >= 1 && width <= kMaxImageSide && height <= kMaxImageSide,
           "resize: target size {}x{} outside 1..{}", width, height, kMaxImageSide);
  if (width == img.width && height == img.height) return img;
  if (filter == Filter::Auto) filter = (width <= img.width && height <= img.height) ? Filter::Area : Filter::Lanczos;
  const Taps tx = filter == Filter::Area ? area_taps(img.width, width) : lanczos_taps(img.width, width);
  const Taps ty = filter == Filter::Area ? area_taps(img.height, height) : lanczos_taps(img.height, height);
  // Horizontal: [H_in, W_in, 3] → [H_in, W_out, 3] (float).
  std::vector<float> mid(static_cast<size_t>(img.height) * width * 3);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* src = img.rgb.data() + static_cast<size_t>(y) * img.width * 3;
    float* dst = mid.data() + static_cast<size_t>(y) * width * 3;
    for (int x = 0; x < width; ++x) {
      const float* w = tx.w.data() + tx.at[x];
      const uint8_t* p = src + static_cast<size_t>(tx.first[x]) * 3;
      float r = 0, g = 0, b = 0;
      for (int k = 0; k < tx.count[x]; ++k, p += 3) r += w[k] * p[0], g += w[k] * p[1], b += w[k] * p[2];
      dst[x * 3] = r, dst[x * 3 + 1] = g, dst[x * 3 + 2] = b;
    }
    // Pillow keeps its intermediate image in 8 bits: Lanczos overshoot is clipped between the passes.
    if (filter == Filter::Lanczos)
      for (size_t i = 0; i < static_cast<size_t>(width) * 3; ++i) dst[i] = std::round(std::clamp(dst[i], 0.0f, 255.0f));
  }
  // Vertical: [H_in, W_out, 3] → [H_out, W_out, 3], rounded and clamped to 0..255.
  Image out = same_size_copy(img, width, height);
  const size_t row = static_cast<size_t>(width) * 3;
  std::vector<float> acc(row);
  for (int y = 0; y < height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const float* w = ty.w.data() + ty.at[y];
    for (int k = 0; k < ty.count[y]; ++k) {
      const float* src = mid.data() + static_cast<size_t>(ty.first[y] + k) * row;
      for (size_t i = 0; i < row; ++i) acc[i] += w[k] * src[i];
    }
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y) * row;
    for (size_t i = 0; i < row; ++i) dst[i] = static_cast<uint8_t>(std::lround(std::clamp(acc[i], 0.0f, 255.0f)));
  }
  return out;
}

Image crop(const Image& img, int left, int top, int width, int height) {
  check_image(img, "crop");
  LS_CHECK(width >= 1 && height >= 1 && left >= 0 && top >= 0 && left <= img.width - width && top <= img.height - height,
           "crop: window {}x{} at ({}, {}) does not fit a {}x{} image", width, height, left, top, img.width, img.height);
  Image out = same_size_copy(img, width, height);
  for (int y = 0; y < height; ++y)
    std::copy_n(img.rgb.data() + (static_cast<size_t>(top + y) * img.width + left) * 3, static_cast<size_t>(width) * 3,
                out.rgb.data() + static_cast<size_t>(y) * width * 3);
  return out;
}

Image center_crop(const Image& img, int width, int height) {
  check_image(img, "center_crop");
  LS_CHECK(width >= 1 && height >= 1 && width <= img.width && height <= img.height,
           "center_crop: window {}x{} is larger than the {}x{} image", width, height, img.width, img.height);
  return crop(img, (img.width - width) / 2, (img.height - height) / 2, width, height);
}

Image flip_horizontal(const Image& img) {
  check_image(img, "flip_horizontal");
  Image out = same_size_copy(img, img.width, img.height);
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      std::copy_n(img.rgb.data() + (static_cast<size_t>(y) * img.width + x) * 3, 3,
                  out.rgb.data() + (static_cast<size_t>(y) * img.width + (img.width - 1 - x)) * 3);
  return out;
}

Image apply_orientation(const Image& img, int orientation) {
  if (orientation < 2 || orientation > 8) return img;
  check_image(img, "apply_orientation");
  const int W = img.width, H = img.height;
  const bool swap = orientation >= 5;
  Image out = same_size_copy(img, swap ? H : W, swap ? W : H);
  const int ow = out.width;
  // For each stored pixel (x, y), where it lands in the upright image (the EXIF 2.32 table of tag 0x0112).
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      int u = x, v = y;
      switch (orientation) {
        case 2: u = W - 1 - x; v = y; break;          // mirrored
        case 3: u = W - 1 - x; v = H - 1 - y; break;  // rotated 180°
        case 4: u = x; v = H - 1 - y; break;          // flipped vertically
        case 5: u = y; v = x; break;                  // transposed
        case 6: u = H - 1 - y; v = x; break;          // needs 90° clockwise
        case 7: u = H - 1 - y; v = W - 1 - x; break;  // transversed
        case 8: u = y; v = W - 1 - x; break;          // needs 90° counter-clockwise
      }
      std::copy_n(img.rgb.data() + (static_cast<size_t>(y) * W + x) * 3, 3, out.rgb.data() + (static_cast<size_t>(v) * ow + u) * 3);
    }
  return out;
}

}  // namespace ls::image
