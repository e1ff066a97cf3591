#include <png.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "image/image.h"

namespace ls::image {

std::vector<Image> from_tensor(const Tensor& decoded) {
  LS_CHECK(decoded.ndim() == 4 && decoded.dim(1) == 3 && decoded.dtype() == DType::F32,
           "image from tensor: expected F32 [N, 3, H, W], got {} {}", dtype_name(decoded.dtype()),
           shape_str(decoded.shape()));
  const int64_t n = decoded.dim(0), h = decoded.dim(2), w = decoded.dim(3);
  const float* p = decoded.data<float>();
  std::vector<Image> out(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; ++b) {
    Image& im = out[static_cast<size_t>(b)];
    im.width = static_cast<int>(w);
    im.height = static_cast<int>(h);
    im.rgb.resize(static_cast<size_t>(w * h * 3));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < h * w; ++i) {
        float v = p[(b * 3 + c) * h * w + i] / 2.0f + 0.5f;
        v = std::isnan(v) ? 0.0f : std::fmin(1.0f, std::fmax(0.0f, v));
        im.rgb[static_cast<size_t>(i * 3 + c)] = static_cast<uint8_t>(std::lround(v * 255.0f));
      }
  }
  return out;
}

Tensor to_tensor(const Image& img) {
  Tensor t = Tensor::empty({1, 3, img.height, img.width});
  float* p = t.data<float>();
  const int64_t hw = static_cast<int64_t>(img.width) * img.height;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < hw; ++i) p[c * hw + i] = img.rgb[static_cast<size_t>(i * 3 + c)] / 127.5f - 1.0f;
  return t;
}

namespace {
struct FileCloser {
  void operator()(FILE* f) const { if (f) std::fclose(f); }
};
[[noreturn]] void png_fail(png_structp png, png_const_charp msg) {
  auto* where = static_cast<std::string*>(png_get_error_ptr(png));
  *where = msg;
  png_longjmp(png, 1);
}
void png_warn(png_structp, png_const_charp) {}
// libpng (1.6.39) reports an oversized ancillary chunk as a warning and then still allocates its claimed
// length (up to 2 GB from a 100-byte file); its own buffers are never legitimately that large (rows ≤ 128 KB,
// text ≤ the 16 MB chunk limit below), so its allocator refuses anything over 64 MB (libpng then fails).
png_voidp png_bounded_malloc(png_structp, png_alloc_size_t n) { return n > (size_t{64} << 20) ? nullptr : std::malloc(n); }
void png_bounded_free(png_structp, png_voidp p) { std::free(p); }
}  // namespace

void write_png(const std::string& path, const Image& img, const std::map<std::string, std::string>& text) {
  LS_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == static_cast<size_t>(img.width) * img.height * 3,
           "{}: image buffer does not match {}×{}", path, img.width, img.height);
  const std::string tmp = path + ".tmp";
  std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) fail("{}: cannot open for writing", tmp);
  std::string err;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_fail, png_warn);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) fail("{}: libpng could not start", path);
  std::vector<png_text> chunks;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    f.reset();
    std::remove(tmp.c_str());
    fail("{}: PNG write failed: {}", path, err);
  }
  png_init_io(png, f.get());
  png_set_IHDR(png, info, static_cast<png_uint_32>(img.width), static_cast<png_uint_32>(img.height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (const auto& [k, v] : text) {
    png_text t{};
    t.compression = PNG_TEXT_COMPRESSION_NONE;
    t.key = const_cast<char*>(k.c_str());
    t.text = const_cast<char*>(v.c_str());
    t.text_length = v.size();
    chunks.push_back(t);
  }
  if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
  png_write_info(png, info);
  for (int y = 0; y < img.height; ++y)
    png_write_row(png, const_cast<png_bytep>(img.rgb.data() + static_cast<size_t>(y) * img.width * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  if (std::fflush(f.get()) != 0) fail("{}: write failed", tmp);
  f.reset();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("{}: cannot rename from {}: {}", path, tmp, ec.message());
}

Image read_png(const std::string& path, std::map<std::string, std::string>* text) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail("{}: cannot open", path);
  std::error_code size_ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, size_ec);
  if (size_ec) fail("{}: cannot read its size: {}", path, size_ec.message());
  unsigned char sig[8];
  if (std::fread(sig, 1, 8, f.get()) != 8 || png_sig_cmp(sig, 0, 8)) fail("{}: not a PNG file", path);
  std::string err;
  png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &err, png_fail, png_warn, nullptr,
                                             png_bounded_malloc, png_bounded_free);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) fail("{}: libpng could not start", path);
  Image img;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    fail("{}: PNG read failed: {}", path, err);
  }
  png_init_io(png, f.get());
  png_set_sig_bytes(png, 8);
  png_set_user_limits(png, 16384, 16384);
  // Ancillary chunks (text, ICC profiles, ...) are buffered whole, sized by their untrusted length field:
  // at most 16 MB each, and at most 1000 of them.
  png_set_chunk_malloc_max(png, 16u << 20);
  png_set_chunk_cache_max(png, 1000);
  png_read_info(png, info);
  // The pixel buffer is allocated before any pixel data is read: refuse a header whose image the rest of
  // the file cannot hold (deflate expands at most ~1032:1), so a tiny file cannot claim a huge buffer.
  const uint64_t filtered = static_cast<uint64_t>(png_get_image_height(png, info)) * (png_get_rowbytes(png, info) + 1);
  if (filtered / 1100 > file_bytes) {
    const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    png_destroy_read_struct(&png, &info, nullptr);
    fail("{}: PNG header claims a {}x{} image ({} bytes of pixel data), more than a {}-byte file can hold", path,
         w, h, filtered, file_bytes);
  }
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_read_update_info(png, info);
  img.width = static_cast<int>(png_get_image_width(png, info));
  img.height = static_cast<int>(png_get_image_height(png, info));
  if (png_get_rowbytes(png, info) != static_cast<size_t>(img.width) * 3) png_error(png, "unexpected row layout");
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  rows.resize(static_cast<size_t>(img.height));
  for (int y = 0; y < img.height; ++y) rows[static_cast<size_t>(y)] = img.rgb.data() + static_cast<size_t>(y) * img.width * 3;
  png_read_image(png, rows.data());
  png_read_end(png, info);
  if (text) {
    png_textp t = nullptr;
    int n = 0;
    png_get_text(png, info, &t, &n);
    for (int i = 0; i < n; ++i) (*text)[t[i].key] = std::string(t[i].text, t[i].text_length);
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return img;
}

}  // namespace ls::image
