// WebP through libwebp: the advanced decoding API (status codes for error messages, output into our own
// buffer), the demuxer for the EXIF chunk, and the muxer to add one when writing.
#include <webp/decode.h>
#include <webp/demux.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include <memory>
#include <new>

#include "image/codecs.h"

namespace ls::image::detail {

namespace {

const char* status_name(VP8StatusCode s) {
  switch (s) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "data ends early (truncated file)";
  }
  return "unknown error";
}

struct DemuxDeleter {
  void operator()(WebPDemuxer* d) const { WebPDemuxDelete(d); }
};
struct MuxDeleter {
  void operator()(WebPMux* m) const { WebPMuxDelete(m); }
};

}  // namespace

Decoded decode_webp(const std::vector<uint8_t>& file, const std::string& path) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) fail("{}: libwebp version mismatch", path);
  VP8StatusCode s = WebPGetFeatures(file.data(), file.size(), &config.input);
  if (s != VP8_STATUS_OK) fail("{}: WebP read failed: {}", path, status_name(s));
  if (config.input.has_animation) fail("{}: animated WebP is not supported", path);
  const int w = config.input.width, h = config.input.height;
  if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide)
    fail("{}: WebP image size {}x{} outside 1..{}", path, w, h, kMaxImageSide);
  Decoded out;
  try {
    out.image.rgb.resize(static_cast<size_t>(w) * h * 3);
  } catch (const std::bad_alloc&) {
    fail("{}: out of memory for a {}x{} image", path, w, h);
  }
  out.image.width = w;
  out.image.height = h;
  // MODE_RGB: alpha, when present, is dropped (the RGB under it is kept, not premultiplied).
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = out.image.rgb.data();
  config.output.u.RGBA.stride = w * 3;
  config.output.u.RGBA.size = out.image.rgb.size();
  s = WebPDecode(file.data(), file.size(), &config);
  WebPFreeDecBuffer(&config.output);
  if (s != VP8_STATUS_OK) fail("{}: WebP read failed: {}", path, status_name(s));
  WebPData data{file.data(), file.size()};
  std::unique_ptr<WebPDemuxer, DemuxDeleter> demux(WebPDemux(&data));
  if (demux) {
    WebPChunkIterator it;
    if (WebPDemuxGetChunk(demux.get(), "EXIF", 1, &it)) {
      out.exif.assign(it.chunk.bytes, it.chunk.bytes + it.chunk.size);
      WebPDemuxReleaseChunkIterator(&it);
    }
  }
  return out;
}

std::vector<uint8_t> encode_webp(const Image& img, int quality, const std::vector<uint8_t>& exif, const std::string& path) {
  if (img.width > WEBP_MAX_DIMENSION || img.height > WEBP_MAX_DIMENSION)
    fail("{}: {}x{} is larger than WebP allows ({} per side)", path, img.width, img.height, WEBP_MAX_DIMENSION);
  uint8_t* encoded = nullptr;
  const size_t n = WebPEncodeRGB(img.rgb.data(), img.width, img.height, img.width * 3, static_cast<float>(quality), &encoded);
  std::unique_ptr<uint8_t, void (*)(void*)> hold(encoded, WebPFree);
  if (n == 0 || !encoded) fail("{}: WebP encoding failed", path);
  if (exif.empty()) return std::vector<uint8_t>(encoded, encoded + n);
  std::unique_ptr<WebPMux, MuxDeleter> mux(WebPMuxNew());
  if (!mux) fail("{}: WebP mux could not start", path);
  const WebPData bitstream{encoded, n};
  const WebPData exif_chunk{exif.data(), exif.size()};
  if (WebPMuxSetImage(mux.get(), &bitstream, 1) != WEBP_MUX_OK ||
      WebPMuxSetChunk(mux.get(), "EXIF", &exif_chunk, 1) != WEBP_MUX_OK)
    fail("{}: WebP mux could not add the EXIF chunk", path);
  WebPData assembled;
  WebPDataInit(&assembled);
  if (WebPMuxAssemble(mux.get(), &assembled) != WEBP_MUX_OK) {
    WebPDataClear(&assembled);
    fail("{}: WebP mux could not assemble the file", path);
  }
  std::vector<uint8_t> bytes(assembled.bytes, assembled.bytes + assembled.size);
  WebPDataClear(&assembled);
  return bytes;
}

}  // namespace ls::image::detail
