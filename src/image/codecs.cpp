// read_image / write_image: format detection and the metadata conventions shared by the codecs.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "image/codecs.h"
#include "image/exif.h"

namespace ls::image {

namespace {

constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

enum class Format { Png, Jpeg, Webp, Unknown };

Format sniff(const uint8_t* b, size_t n) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n >= 8 && std::memcmp(b, kPng, 8) == 0) return Format::Png;
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return Format::Jpeg;
  if (n >= 12 && std::memcmp(b, "RIFF", 4) == 0 && std::memcmp(b + 8, "WEBP", 4) == 0) return Format::Webp;
  return Format::Unknown;
}

struct FileCloser {
  void operator()(FILE* f) const { if (f) std::fclose(f); }
};

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

namespace detail {

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
    if (!f) fail("{}: cannot open for writing", tmp);
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f.get()) == bytes.size() && std::fflush(f.get()) == 0;
    if (!ok || std::fclose(f.release()) != 0) {
      std::remove(tmp.c_str());
      fail("{}: write failed", tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail("{}: cannot rename from {}: {}", path, tmp, ec.message());
  }
}

}  // namespace detail

Image read_image(const std::string& path, std::map<std::string, std::string>* text) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) fail("{}: cannot open", path);
  uint8_t head[12] = {};
  const size_t got = std::fread(head, 1, sizeof head, f.get());
  const Format format = sniff(head, got);
  if (format == Format::Unknown)
    fail("{}: not a PNG, JPEG or WebP file ({} bytes; starts {:02x} {:02x} {:02x} {:02x})", path, got, head[0], head[1],
         head[2], head[3]);
  if (format == Format::Png) {
    f.reset();
    return read_png(path, text);
  }
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail("{}: cannot read its size: {}", path, ec.message());
  if (size > kMaxFileBytes) fail("{}: {} bytes is larger than the {}-byte limit for an image file", path, size, kMaxFileBytes);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  std::memcpy(bytes.data(), head, std::min<size_t>(got, bytes.size()));
  if (bytes.size() > got && std::fread(bytes.data() + got, 1, bytes.size() - got, f.get()) != bytes.size() - got)
    fail("{}: read failed", path);
  f.reset();
  detail::Decoded d = format == Format::Jpeg ? detail::decode_jpeg(bytes, path) : detail::decode_webp(bytes, path);
  const exif::Info info = d.exif.empty() ? exif::Info{} : exif::read_exif(d.exif.data(), d.exif.size());
  if (text && !info.user_comment.empty()) (*text)["parameters"] = info.user_comment;
  if (format == Format::Jpeg && info.orientation != 1) return apply_orientation(d.image, info.orientation);
  return std::move(d.image);
}

void write_image(const std::string& path, const Image& img, const std::map<std::string, std::string>& text, int quality) {
  LS_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == static_cast<size_t>(img.width) * img.height * 3,
           "{}: image buffer does not match {}×{}", path, img.width, img.height);
  const std::string ext = lower_extension(path);
  if (ext == ".png") return write_png(path, img, text);
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  if (!jpeg && ext != ".webp") fail("{}: unknown image extension '{}' (expected .png, .jpg, .jpeg or .webp)", path, ext);
  LS_CHECK(quality >= 1 && quality <= 100, "{}: quality {} outside 1..100", path, quality);
  std::vector<uint8_t> block;
  for (const auto& [key, value] : text) {
    if (key != "parameters")
      fail("{}: text key '{}' cannot be stored in {} (only 'parameters', as EXIF UserComment)", path, key,
           jpeg ? "JPEG" : "WebP");
    block = exif::user_comment_block(value);
  }
  detail::write_file_atomic(path, jpeg ? detail::encode_jpeg(img, quality, block, path)
                                       : detail::encode_webp(img, quality, block, path));
}

}  // namespace ls::image
