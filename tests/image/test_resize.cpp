// image::resize / crop / center_crop / flip_horizontal, against Pillow LANCZOS and OpenCV INTER_AREA
// (kohya-ss's two resamplers) on the shared test pattern (fixtures from make_reference.py).
#include <gtest/gtest.h>

#include "../common/error_of.h"
#include "image/image.h"
#include "test_util.h"

namespace {

using ls::image::Filter;
using ls::image::Image;
namespace image = ls::image;

const std::string kData = std::string(LS_SOURCE_DIR) + "/tests/image/data/";

Image reference(const std::string& name, int w, int h) {
  return Image{w, h, ls::testing::read_bytes(kData + name)};
}

// Pillow's and OpenCV's resamplers work in fixed point; ours in float: at most one level apart.
TEST(Resize, LanczosMatchesPillow) {
  const Image src = ls::testing::pattern(97, 61);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{40, 25}, {150, 90}, {97, 30}}) {
    const Image want = reference("resize_lanczos_" + std::to_string(w) + "x" + std::to_string(h) + ".bin", w, h);
    ASSERT_EQ(want.rgb.size(), static_cast<size_t>(w) * h * 3);
    const auto d = ls::testing::diff(image::resize(src, w, h, Filter::Lanczos), want);
    EXPECT_LE(d.max, 1) << w << "x" << h << " mean " << d.mean;
  }
}

TEST(Resize, AreaMatchesOpenCv) {
  const Image src = ls::testing::pattern(97, 61);
  for (auto [w, h] : std::vector<std::pair<int, int>>{{40, 25}, {32, 20}, {97, 30}}) {
    const Image want = reference("resize_area_" + std::to_string(w) + "x" + std::to_string(h) + ".bin", w, h);
    ASSERT_EQ(want.rgb.size(), static_cast<size_t>(w) * h * 3);
    const auto d = ls::testing::diff(image::resize(src, w, h, Filter::Area), want);
    EXPECT_LE(d.max, 1) << w << "x" << h << " mean " << d.mean;
  }
}

TEST(Resize, AreaIntegerFactorIsTheBlockMean) {
  const Image src = ls::testing::pattern(96, 60);
  const Image out = image::resize(src, 32, 20, Filter::Area);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 32; ++x)
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int dy = 0; dy < 3; ++dy)
          for (int dx = 0; dx < 3; ++dx) sum += src.rgb[((y * 3 + dy) * 96 + x * 3 + dx) * 3 + c];
        ASSERT_EQ(out.rgb[(y * 32 + x) * 3 + c], static_cast<int>(std::lround(sum / 9.0))) << x << "," << y;
      }
}

TEST(Resize, ConstantStaysConstantAndAutoPicksTheKohyaFilter) {
  const Image flat = ls::testing::solid(53, 31, 10, 128, 250);
  for (Filter f : {Filter::Area, Filter::Lanczos, Filter::Auto})
    for (auto [w, h] : std::vector<std::pair<int, int>>{{17, 9}, {100, 77}, {53, 62}, {1, 1}}) {
      const Image out = image::resize(flat, w, h, f);
      EXPECT_EQ(ls::testing::diff(out, ls::testing::solid(w, h, 10, 128, 250)).max, 0) << w << "x" << h;
    }
  const Image src = ls::testing::pattern(97, 61);
  EXPECT_EQ(image::resize(src, 40, 25).rgb, image::resize(src, 40, 25, Filter::Area).rgb);
  EXPECT_EQ(image::resize(src, 40, 90).rgb, image::resize(src, 40, 90, Filter::Lanczos).rgb);
  EXPECT_EQ(image::resize(src, 97, 61).rgb, src.rgb);
}

TEST(Resize, Errors) {
  using ls::testing::error_of;
  const Image src = ls::testing::pattern(8, 8);
  EXPECT_NE(error_of([&] { image::resize(src, 0, 5); }).find("target size 0x5 outside 1..16384"), std::string::npos);
  EXPECT_NE(error_of([&] { image::resize(Image{}, 5, 5); }).find("image buffer does not match 0x0"), std::string::npos);
  EXPECT_NE(error_of([&] { image::crop(src, 4, 4, 5, 1); }).find("window 5x1 at (4, 4) does not fit a 8x8 image"),
            std::string::npos);
  EXPECT_NE(error_of([&] { image::center_crop(src, 9, 8); }).find("larger than the 8x8 image"), std::string::npos);
}

TEST(Geometry, CropCenterCropAndFlip) {
  const Image src = ls::testing::pattern(10, 7);
  const Image c = image::crop(src, 3, 2, 4, 3);
  ASSERT_EQ(c.width, 4);
  ASSERT_EQ(c.height, 3);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(c.rgb[(y * 4 + x) * 3 + k], src.rgb[((y + 2) * 10 + x + 3) * 3 + k]);
  // (10 − 5) / 2 = 2 and (7 − 4) / 2 = 1, rounded down as kohya-ss's trim_size // 2
  EXPECT_EQ(image::center_crop(src, 5, 4).rgb, image::crop(src, 2, 1, 5, 4).rgb);
  const Image f = image::flip_horizontal(src);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 10; ++x)
      for (int k = 0; k < 3; ++k) EXPECT_EQ(f.rgb[(y * 10 + x) * 3 + k], src.rgb[(y * 10 + 9 - x) * 3 + k]);
  EXPECT_EQ(image::flip_horizontal(f).rgb, src.rgb);
}

}  // namespace
