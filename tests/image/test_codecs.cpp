// image::read_image / write_image: PNG, JPEG and WebP round trips, A1111 metadata, EXIF orientation,
// files made by Pillow (make_reference.py), and bad input (every failure an ls::Error naming the file).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../common/error_of.h"
#include "image/codecs.h"
#include "image/exif.h"
#include "image/image.h"
#include "test_util.h"

namespace {

using ls::image::Image;
using ls::testing::error_of;
using ls::testing::TempDir;
namespace image = ls::image;

const std::string kData = std::string(LS_SOURCE_DIR) + "/tests/image/data/";

const std::string kParams =
    "a cat wearing a hat, <lora:cat:0.8>, 日本語の猫 🐱\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x48";

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A big-endian TIFF block with IFD0 = {Orientation (SHORT) = o}.
std::vector<uint8_t> orientation_block(int o) {
  return {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, static_cast<uint8_t>(o), 0, 0, 0, 0, 0, 0, 0, 0};
}

Image quadrants() {  // 48x32: red | green over blue | yellow
  Image im = ls::testing::solid(48, 32, 0, 0, 0);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 48; ++x) {
      uint8_t* p = im.rgb.data() + (y * 48 + x) * 3;
      const bool left = x < 24, top = y < 16;
      p[0] = (top && left) || (!top && !left) ? 255 : 0;
      p[1] = top && !left ? 255 : (!top && !left ? 255 : 0);
      p[2] = !top && left ? 255 : 0;
    }
  return im;
}

std::array<int, 3> pixel(const Image& im, int x, int y) {
  const uint8_t* p = im.rgb.data() + (static_cast<size_t>(y) * im.width + x) * 3;
  return {p[0], p[1], p[2]};
}

// The dominant colour at (x, y) of a lossy quadrant image: R, G, B, Y (yellow) or '?'.
char colour(const Image& im, int x, int y) {
  auto [r, g, b] = pixel(im, x, y);
  if (r > 200 && g > 200 && b < 60) return 'Y';
  if (r > 200 && g < 60 && b < 60) return 'R';
  if (g > 200 && r < 60 && b < 60) return 'G';
  if (b > 200 && r < 60 && g < 60) return 'B';
  return '?';
}

// ---- round trips ----

TEST(Codecs, PngRoundTripIsExactWithAllTextChunks) {
  TempDir dir("image");
  const Image im = ls::testing::pattern(37, 23);
  image::write_image(dir / "a.png", im, {{"parameters", kParams}, {"Software", "lorastack"}});
  std::map<std::string, std::string> text;
  const Image back = image::read_image(dir / "a.png", &text);
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 23);
  EXPECT_EQ(back.rgb, im.rgb);
  EXPECT_EQ(text["parameters"], kParams);
  EXPECT_EQ(text["Software"], "lorastack");
}

TEST(Codecs, JpegRoundTripWithinTolerance) {
  TempDir dir("image");
  const Image im = ls::testing::smooth(67, 45);  // odd sizes: partial MCUs at the right and bottom
  for (const char* name : {"a.jpg", "b.JPEG"}) {
    image::write_image(dir / name, im, {{"parameters", kParams}});
    std::map<std::string, std::string> text;
    const Image back = image::read_image(dir / name, &text);
    const auto d = ls::testing::diff(im, back);
    // quality 95, 4:2:0 chroma on a smooth picture: measured max 9, mean 0.9
    EXPECT_LE(d.max, 16) << name;
    EXPECT_LE(d.mean, 1.5) << name;
    EXPECT_EQ(text["parameters"], kParams) << name;
  }
}

TEST(Codecs, JpegQualityChangesSize) {
  TempDir dir("image");
  const Image im = ls::testing::pattern(64, 64);
  image::write_image(dir / "q95.jpg", im, {}, 95);
  image::write_image(dir / "q30.jpg", im, {}, 30);
  EXPECT_LT(std::filesystem::file_size(dir / "q30.jpg"), std::filesystem::file_size(dir / "q95.jpg"));
  std::map<std::string, std::string> text;
  image::read_image(dir / "q30.jpg", &text);
  EXPECT_TRUE(text.empty());
}

TEST(Codecs, WebpRoundTripWithinTolerance) {
  TempDir dir("image");
  const Image im = ls::testing::smooth(67, 45);
  image::write_image(dir / "a.webp", im, {{"parameters", kParams}});
  std::map<std::string, std::string> text;
  const Image back = image::read_image(dir / "a.webp", &text);
  const auto d = ls::testing::diff(im, back);
  // lossy quality 95 (4:2:0): measured max 14, mean 1.2
  EXPECT_LE(d.max, 24);
  EXPECT_LE(d.mean, 2.0);
  EXPECT_EQ(text["parameters"], kParams);
  // The file is the extended container with an EXIF chunk holding the TIFF block directly.
  const auto bytes = ls::testing::read_bytes(dir / "a.webp");
  const std::string s(bytes.begin(), bytes.end());
  EXPECT_EQ(s.substr(12, 4), "VP8X");
  const size_t at = s.find("EXIF");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(s.substr(at + 8, 4), std::string("MM\0*", 4));
}

TEST(Codecs, WebpWithoutTextIsASimpleFile) {
  TempDir dir("image");
  image::write_image(dir / "a.webp", ls::testing::smooth(16, 16));
  const auto bytes = ls::testing::read_bytes(dir / "a.webp");
  EXPECT_EQ(std::string(bytes.begin() + 12, bytes.begin() + 15), "VP8");
  std::map<std::string, std::string> text;
  EXPECT_EQ(image::read_image(dir / "a.webp", &text).width, 16);
  EXPECT_TRUE(text.empty());
}

TEST(Codecs, FormatComesFromContentNotExtension) {
  TempDir dir("image");
  image::write_image(dir / "a.jpg", ls::testing::smooth(20, 10), {{"parameters", "p"}});
  std::filesystem::rename(dir / "a.jpg", dir / "really_a_jpeg.png");
  std::map<std::string, std::string> text;
  EXPECT_EQ(image::read_image(dir / "really_a_jpeg.png", &text).width, 20);
  EXPECT_EQ(text["parameters"], "p");
}

TEST(Codecs, LongParametersFitWebpButNotOneJpegSegment) {
  TempDir dir("image");
  const std::string long_text(40000, 'x');
  image::write_image(dir / "a.webp", ls::testing::smooth(8, 8), {{"parameters", long_text}});
  std::map<std::string, std::string> text;
  image::read_image(dir / "a.webp", &text);
  EXPECT_EQ(text["parameters"], long_text);
  const std::string e = error_of([&] { image::write_image(dir / "a.jpg", ls::testing::smooth(8, 8), {{"parameters", long_text}}); });
  EXPECT_TRUE(has(e, dir / "a.jpg")) << e;
  EXPECT_TRUE(has(e, "does not fit one JPEG APP1 segment")) << e;
  EXPECT_FALSE(std::filesystem::exists(dir / "a.jpg"));
}

TEST(Codecs, WriteErrorsNameThePath) {
  TempDir dir("image");
  const Image im = ls::testing::smooth(8, 8);
  EXPECT_TRUE(has(error_of([&] { image::write_image(dir / "a.bmp", im); }), "unknown image extension '.bmp'"));
  EXPECT_TRUE(has(error_of([&] { image::write_image(dir / "a.jpg", im, {{"Software", "x"}}); }),
                  "text key 'Software' cannot be stored in JPEG"));
  EXPECT_TRUE(has(error_of([&] { image::write_image(dir / "a.webp", im, {}, 0); }), "quality 0 outside 1..100"));
  EXPECT_TRUE(has(error_of([&] { image::write_image(dir / "a.jpg", Image{4, 4, {}}); }), "does not match 4×4"));
  EXPECT_TRUE(has(error_of([&] { image::write_image(dir / "no/such/dir/a.jpg", im); }), "cannot open for writing"));
  EXPECT_TRUE(has(error_of([&] { image::write_image(dir / "big.webp", ls::testing::solid(16384, 1, 0, 0, 0)); }),
                  "larger than WebP allows"));
}

// ---- EXIF ----

TEST(Exif, UserCommentBlockIsPiexifLayout) {
  const auto b = image::exif::user_comment_block("hé");
  // MM, 42, IFD0@8 {ExifIFD → 26}, Exif IFD@26 {UserComment UNDEFINED ×12 @44}, "UNICODE\0" + UTF-16BE
  const std::vector<uint8_t> want = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26,
                                     0, 0, 0, 0, 0, 1, 0x92, 0x86, 0, 7, 0, 0, 0, 12, 0, 0, 0, 44, 0, 0, 0, 0,
                                     'U', 'N', 'I', 'C', 'O', 'D', 'E', 0, 0, 'h', 0, 0xE9};
  EXPECT_EQ(b, want);
  EXPECT_EQ(image::exif::read_exif(b.data(), b.size()).user_comment, "hé");
}

TEST(Exif, ReadsOtherWritersConventions) {
  using image::exif::read_exif;
  auto block = [](bool le, const std::vector<uint8_t>& comment) {
    auto u16 = [&](std::vector<uint8_t>& b, int v) {
      if (le) b.insert(b.end(), {uint8_t(v), uint8_t(v >> 8)});
      else b.insert(b.end(), {uint8_t(v >> 8), uint8_t(v)});
    };
    auto u32 = [&](std::vector<uint8_t>& b, uint32_t v) {
      if (le) u16(b, v & 0xFFFF), u16(b, v >> 16);
      else u16(b, v >> 16), u16(b, v & 0xFFFF);
    };
    std::vector<uint8_t> b = {uint8_t(le ? 'I' : 'M'), uint8_t(le ? 'I' : 'M')};
    u16(b, 42), u32(b, 8);
    u16(b, 2), u16(b, 0x0112), u16(b, 3), u32(b, 1), u16(b, 8), u16(b, 0);  // Orientation 8
    u16(b, 0x8769), u16(b, 4), u32(b, 1), u32(b, 38), u32(b, 0);
    u16(b, 1), u16(b, 0x9286), u16(b, 7), u32(b, static_cast<uint32_t>(comment.size())), u32(b, 56), u32(b, 0);
    b.insert(b.end(), comment.begin(), comment.end());
    return b;
  };
  auto text = [](const std::string& prefix, const std::string& body) {
    std::vector<uint8_t> v(prefix.begin(), prefix.end());
    v.insert(v.end(), body.begin(), body.end());
    return v;
  };
  // Little-endian TIFF, UTF-16LE comment (exiftool on an Intel-order file): detected from the zero bytes.
  auto b = block(true, text(std::string("UNICODE\0", 8), std::string("h\0i\0", 4)));
  auto info = read_exif(b.data(), b.size());
  EXPECT_EQ(info.orientation, 8);
  EXPECT_EQ(info.user_comment, "hi");
  // Little-endian TIFF with a UTF-16BE comment (Pillow's Exif.tobytes with A1111's bytes).
  b = block(true, text(std::string("UNICODE\0", 8), std::string("\0h\0i", 4)));
  EXPECT_EQ(read_exif(b.data(), b.size()).user_comment, "hi");
  // A byte-order mark wins.
  b = block(false, text(std::string("UNICODE\0", 8), std::string("\xFF\xFEh\0i\0", 6)));
  EXPECT_EQ(read_exif(b.data(), b.size()).user_comment, "hi");
  // ASCII code with UTF-8 bytes and NUL padding; "Exif\0\0" prefix accepted.
  b = block(false, text(std::string("ASCII\0\0\0", 8), std::string("caf\xC3\xA9\0\0", 7)));
  b.insert(b.begin(), {'E', 'x', 'i', 'f', 0, 0});
  EXPECT_EQ(read_exif(b.data(), b.size()).user_comment, "café");
  // Broken structures: never throw, defaults stay.
  for (size_t cut = 0; cut < b.size(); ++cut) EXPECT_NO_THROW(read_exif(b.data(), cut));
  std::vector<uint8_t> loop = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0};
  EXPECT_EQ(read_exif(loop.data(), loop.size()).user_comment, "");
  std::vector<uint8_t> far = {'M', 'M', 0, 42, 0xFF, 0xFF, 0xFF, 0xF0};
  EXPECT_EQ(read_exif(far.data(), far.size()).orientation, 1);
}

TEST(Exif, Utf16ConversionsReplaceInvalidInput) {
  using namespace image::exif;
  EXPECT_EQ(utf16_to_utf8(utf8_to_utf16("a é 日 🐱")), "a é 日 🐱");
  EXPECT_EQ(utf8_to_utf16("\xF0\x9F\x90\xB1"), std::u16string(u"\U0001F431"));
  EXPECT_EQ(utf8_to_utf16("a\xFF" "b\xC0\xAF"), std::u16string(u"a\uFFFDb\uFFFD\uFFFD"));  // bad byte, overlong
  EXPECT_EQ(utf16_to_utf8(std::u16string(1, char16_t(0xD800))), "\xEF\xBF\xBD");         // lone surrogate
}

TEST(Codecs, JpegOrientationIsAppliedForAllEightValues) {
  TempDir dir("image");
  // Where the stored quadrants (R G / B Y) end up, as [top-left, top-right, bottom-left, bottom-right].
  const std::map<int, std::string> want = {{1, "RGBY"}, {2, "GRYB"}, {3, "YBGR"}, {4, "BYRG"},
                                           {5, "RBGY"}, {6, "BRYG"}, {7, "YGBR"}, {8, "GYRB"}};
  for (const auto& [o, corners] : want) {
    const std::string path = dir / fmt::format("o{}.jpg", o);
    ls::testing::write_bytes(path, image::detail::encode_jpeg(quadrants(), 95, orientation_block(o), path));
    const Image im = image::read_image(path);
    const bool swap = o >= 5;
    ASSERT_EQ(im.width, swap ? 32 : 48) << o;
    ASSERT_EQ(im.height, swap ? 48 : 32) << o;
    const int w = im.width, h = im.height;
    const std::string got = {colour(im, w / 4, h / 4), colour(im, 3 * w / 4, h / 4), colour(im, w / 4, 3 * h / 4),
                             colour(im, 3 * w / 4, 3 * h / 4)};
    EXPECT_EQ(got, corners) << "orientation " << o;
  }
}

TEST(Codecs, ApplyOrientationIsExact) {
  const Image im{3, 2, {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6}};  // 1 2 3 / 4 5 6
  auto grey = [](const Image& m) {
    std::vector<int> v;
    for (size_t i = 0; i < m.rgb.size(); i += 3) v.push_back(m.rgb[i]);
    return v;
  };
  EXPECT_EQ(grey(image::apply_orientation(im, 1)), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(grey(image::apply_orientation(im, 2)), (std::vector<int>{3, 2, 1, 6, 5, 4}));
  EXPECT_EQ(grey(image::apply_orientation(im, 3)), (std::vector<int>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(grey(image::apply_orientation(im, 4)), (std::vector<int>{4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(grey(image::apply_orientation(im, 5)), (std::vector<int>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(grey(image::apply_orientation(im, 6)), (std::vector<int>{4, 1, 5, 2, 6, 3}));
  EXPECT_EQ(grey(image::apply_orientation(im, 7)), (std::vector<int>{6, 3, 5, 2, 4, 1}));
  EXPECT_EQ(grey(image::apply_orientation(im, 8)), (std::vector<int>{3, 6, 2, 5, 1, 4}));
  EXPECT_EQ(image::apply_orientation(im, 6).width, 2);
  EXPECT_EQ(grey(image::apply_orientation(im, 9)), grey(im));
}

TEST(Codecs, CorruptExifIsIgnored) {
  TempDir dir("image");
  const std::string path = dir / "a.jpg";
  std::vector<uint8_t> junk = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 9, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0x7F, 0xFF, 0xFF, 0xFF};
  ls::testing::write_bytes(path, image::detail::encode_jpeg(ls::testing::smooth(16, 8), 90, junk, path));
  std::map<std::string, std::string> text;
  const Image im = image::read_image(path, &text);
  EXPECT_EQ(im.width, 16);
  EXPECT_TRUE(text.empty());
}

// ---- files written by Pillow the way A1111 writes them (tests/image/make_reference.py) ----

class PillowFiles : public ::testing::Test {
 protected:
  static nlohmann::json ref() {
    std::ifstream in(kData + "reference.json");
    return nlohmann::json::parse(in);
  }
  static Image decoded(const std::string& name) {
    const auto r = ref()[name];
    return Image{r["width"].get<int>(), r["height"].get<int>(), ls::testing::read_bytes(kData + name + ".decoded.bin")};
  }
};

TEST_F(PillowFiles, A1111JpegAndWebpParametersAndPixels) {
  const std::string params = ref()["params"];
  ASSERT_EQ(params, kParams);
  for (const char* name : {"a1111.jpg", "a1111.webp"}) {
    std::map<std::string, std::string> text;
    const Image im = image::read_image(kData + name, &text);
    EXPECT_EQ(text["parameters"], kParams) << name;
    const auto d = ls::testing::diff(im, decoded(name));
    EXPECT_LE(d.max, 1) << name;  // the same libjpeg-turbo / libwebp algorithms (versions may differ)
  }
}

TEST_F(PillowFiles, Orientation6CmykGreyProgressiveLosslessAlpha) {
  for (const char* name : {"orient6.jpg", "cmyk.jpg", "gray.jpg", "progressive.jpg", "lossless.webp", "alpha.webp"}) {
    const Image im = image::read_image(kData + name);
    const Image want = decoded(name);
    ASSERT_EQ(im.width, want.width) << name;
    ASSERT_EQ(im.height, want.height) << name;
    const auto d = ls::testing::diff(im, want);
    EXPECT_LE(d.max, 1) << name << " mean " << d.mean;
  }
  // Lossless WebP is exact; alpha is dropped, keeping the RGB under it (Pillow convert("RGB")).
  EXPECT_EQ(image::read_image(kData + "lossless.webp").rgb, ls::testing::pattern(20, 12).rgb);
  EXPECT_EQ(image::read_image(kData + "alpha.webp").rgb, ls::testing::smooth(20, 12).rgb);
}

// Writes lorastack's own JPEG / WebP with A1111 parameters for tests/image/check_with_pil.py, when
// LS_IMAGE_EXPORT_DIR is set (the cross-check runs where Pillow is installed).
TEST(Codecs, ExportForPillowCheck) {
  const char* out = std::getenv("LS_IMAGE_EXPORT_DIR");
  if (!out) GTEST_SKIP() << "LS_IMAGE_EXPORT_DIR not set";
  const std::string dir = out;
  const Image im = ls::testing::smooth(67, 45);
  for (const char* name : {"ours.jpg", "ours.webp"}) {
    image::write_image(dir + "/" + name, im, {{"parameters", kParams}});
    const Image back = image::read_image(dir + "/" + name);
    ls::testing::write_bytes(dir + "/" + name + ".decoded.bin", back.rgb);
  }
  ls::testing::write_text(dir + "/ours.params.txt", kParams);
}

// ---- bad input ----

TEST(Codecs, ReadErrorsNameThePath) {
  TempDir dir("image");
  EXPECT_TRUE(has(error_of([&] { image::read_image(dir / "missing.jpg"); }), dir / "missing.jpg: cannot open"));
  ls::testing::write_text(dir / "empty.png", "");
  EXPECT_TRUE(has(error_of([&] { image::read_image(dir / "empty.png"); }), "not a PNG, JPEG or WebP file (0 bytes"));
  ls::testing::write_text(dir / "text.jpg", "hello, this is not an image");
  EXPECT_TRUE(has(error_of([&] { image::read_image(dir / "text.jpg"); }), "starts 68 65 6c 6c"));
  ls::testing::write_text(dir / "riff.webp", std::string("RIFF\x10\0\0\0WEBPVP8 ", 16));
  EXPECT_TRUE(has(error_of([&] { image::read_image(dir / "riff.webp"); }), dir / "riff.webp: WebP read failed"));
}

TEST(Codecs, TruncatedFilesAreErrors) {
  TempDir dir("image");
  const Image im = ls::testing::smooth(64, 64);
  for (const char* name : {"a.png", "a.jpg", "a.webp"}) {
    image::write_image(dir / name, im, {{"parameters", "p"}});
    const auto bytes = ls::testing::read_bytes(dir / name);
    const std::string cut = dir / (std::string("cut_") + name);
    ls::testing::write_bytes(cut, std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2));
    const std::string e = error_of([&] { image::read_image(cut); });
    EXPECT_TRUE(has(e, cut + ": ")) << e;
    if (std::string(name) != "a.png") {
      EXPECT_TRUE(has(e, "truncated")) << e;
    }
  }
}

TEST(Codecs, EveryPrefixAndByteFlipGivesImageOrError) {
  TempDir dir("image");
  const Image im = ls::testing::smooth(24, 16);
  for (const char* name : {"a.png", "a.jpg", "a.webp"}) {
    image::write_image(dir / name, im, {{"parameters", "p"}});
    const auto bytes = ls::testing::read_bytes(dir / name);
    const std::string p = dir / "x";
    for (size_t n = 0; n < bytes.size(); n += 3) {
      ls::testing::write_bytes(p, std::vector<uint8_t>(bytes.begin(), bytes.begin() + n));
      const std::string e = error_of([&] { image::read_image(p); });
      EXPECT_TRUE(has(e, p + ": ")) << name << " cut at " << n << ": " << e;
    }
    for (size_t i = 0; i < bytes.size(); i += 5) {
      auto flipped = bytes;
      flipped[i] ^= 0x5A;
      ls::testing::write_bytes(p, flipped);
      const std::string e = error_of([&] {
        const Image got = image::read_image(p);
        EXPECT_EQ(got.rgb.size(), static_cast<size_t>(got.width) * got.height * 3);
      });
      if (!e.empty()) {
        EXPECT_TRUE(has(e, p + ": ")) << e;
      }
    }
  }
}

TEST(Codecs, JpegHeaderClaimingMoreThanTheFileHoldsIsRefused) {
  TempDir dir("image");
  image::write_image(dir / "a.jpg", ls::testing::smooth(16, 16), {}, 90);
  auto bytes = ls::testing::read_bytes(dir / "a.jpg");
  size_t sof = 0;
  for (size_t i = 2; i + 9 < bytes.size(); ++i)
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0) { sof = i; break; }
  ASSERT_NE(sof, 0u);
  auto patch = [&](int w, int h) {
    auto b = bytes;
    b[sof + 5] = static_cast<uint8_t>(h >> 8), b[sof + 6] = static_cast<uint8_t>(h);
    b[sof + 7] = static_cast<uint8_t>(w >> 8), b[sof + 8] = static_cast<uint8_t>(w);
    ls::testing::write_bytes(dir / "p.jpg", b);
    return error_of([&] { image::read_image(dir / "p.jpg"); });
  };
  std::string e = patch(16000, 16000);
  EXPECT_TRUE(has(e, "header claims a 16000x16000 image")) << e;
  e = patch(20000, 100);
  EXPECT_TRUE(has(e, "image size 20000x100 outside 1..16384")) << e;
}

}  // namespace
