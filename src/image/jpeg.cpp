// JPEG through the libjpeg API of libjpeg-turbo. libjpeg reports errors by calling error_exit, which must
// not return: it longjmps back to the setjmp in decode_into / encode_into. Those functions keep every
// C++ object in a caller-owned state struct (nothing with a destructor lives in a frame that longjmp
// skips) and report failure by returning false with the message in state.err.message.
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <jerror.h>
#include <jpeglib.h>

#include <algorithm>
#include <csetjmp>
#include <cstdlib>
#include <cstring>
#include <new>

#include "image/codecs.h"

namespace ls::image::detail {

namespace {

constexpr int kMaxScans = 500;                 // libjpeg-turbo's recommended progressive scan limit
constexpr long kMaxWorkMemory = 1L << 30;      // libjpeg's own buffers (whole-image coefficients)

struct ErrorMgr {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 96];
  bool truncated;
};

void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorMgr*>(c->err);
  (*c->err->format_message)(c, e->message);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<ErrorMgr*>(c->err);
  c->err->num_warnings++;
  // Data ending early is a warning to libjpeg (it pads with grey); here it is an error, as in PIL.
  if (c->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
}

struct ProgressMgr {
  jpeg_progress_mgr pub;
  ErrorMgr* err;
};

void on_progress(j_common_ptr c) {
  if (!c->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  auto* p = reinterpret_cast<ProgressMgr*>(c->progress);
  if (d->input_scan_number > kMaxScans) {
    std::snprintf(p->err->message, sizeof p->err->message, "more than %d scans (a progressive-JPEG CPU bomb?)", kMaxScans);
    std::longjmp(p->err->jump, 1);
  }
}

struct DecodeState {
  jpeg_decompress_struct cinfo;
  ErrorMgr err;
  ProgressMgr progress;
  std::vector<uint8_t> row;  // one CMYK row
};

// Decode `file` into `out`; false (message in st.err.message) on any failure.
bool decode_into(DecodeState& st, const std::vector<uint8_t>& file, Decoded& out) {
  jpeg_decompress_struct& ci = st.cinfo;
  ci.err = jpeg_std_error(&st.err.pub);
  st.err.pub.error_exit = on_error;
  st.err.pub.emit_message = on_message;
  st.err.message[0] = '\0';
  st.err.truncated = false;
  if (setjmp(st.err.jump)) {
    jpeg_destroy_decompress(&ci);
    return false;
  }
  jpeg_create_decompress(&ci);
  ci.mem->max_memory_to_use = kMaxWorkMemory;
  st.progress.pub.progress_monitor = on_progress;
  st.progress.err = &st.err;
  ci.progress = &st.progress.pub;
  jpeg_mem_src(&ci, file.data(), static_cast<unsigned long>(file.size()));
  jpeg_save_markers(&ci, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&ci, TRUE);
  auto refuse = [&](const char* fmt, auto... args) {
    std::snprintf(st.err.message, sizeof st.err.message, fmt, args...);
    jpeg_destroy_decompress(&ci);
    return false;
  };
  if (ci.image_width == 0 || ci.image_height == 0 || ci.image_width > static_cast<JDIMENSION>(kMaxImageSide) ||
      ci.image_height > static_cast<JDIMENSION>(kMaxImageSide))
    return refuse("image size %ux%u outside 1..%d", ci.image_width, ci.image_height, kMaxImageSide);
  // Every block of the first scan's components costs at least one bit with Huffman coding (a DC code;
  // sequential scans add an end-of-block code), so a header cannot claim more blocks than the file has
  // bits: this stops a tiny file from claiming a huge pixel buffer. A progressive file must start with a
  // DC scan (an AC-first scan with EOB runs would cost almost nothing per block). Arithmetic coding can
  // go below one bit per block; there the bound is one bit per 64 blocks (a heuristic, not a proof).
  if (ci.progressive_mode && (ci.Ss != 0 || ci.Ah != 0))
    return refuse("progressive JPEG whose first scan is not a DC scan (Ss=%d, Ah=%d)", ci.Ss, ci.Ah);
  uint64_t first_scan_blocks = 0;
  for (int i = 0; i < ci.comps_in_scan; ++i)
    first_scan_blocks = std::max<uint64_t>(first_scan_blocks, uint64_t{ci.cur_comp_info[i]->width_in_blocks} *
                                                                  ci.cur_comp_info[i]->height_in_blocks);
  const uint64_t bits = uint64_t{file.size()} * 8 * (ci.arith_code ? 64 : 1);
  if (first_scan_blocks > bits)
    return refuse("header claims a %ux%u image (%llu blocks in its first scan), more than a %zu-byte file can encode",
                  ci.image_width, ci.image_height, static_cast<unsigned long long>(first_scan_blocks), file.size());
  const bool cmyk = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
  ci.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  for (jpeg_saved_marker_ptr m = ci.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0 && out.exif.empty())
      out.exif.assign(m->data, m->data + m->data_length);
  jpeg_start_decompress(&ci);
  const int w = static_cast<int>(ci.output_width), h = static_cast<int>(ci.output_height);
  if (ci.output_components != (cmyk ? 4 : 3)) return refuse("unexpected %d output components", ci.output_components);
  try {
    out.image.width = w;
    out.image.height = h;
    out.image.rgb.resize(static_cast<size_t>(w) * h * 3);
    if (cmyk) st.row.resize(static_cast<size_t>(w) * 4);
  } catch (const std::bad_alloc&) {
    return refuse("out of memory for a %dx%d image", w, h);
  }
  while (ci.output_scanline < ci.output_height) {
    uint8_t* dst = out.image.rgb.data() + static_cast<size_t>(ci.output_scanline) * w * 3;
    JSAMPROW row = cmyk ? st.row.data() : dst;
    jpeg_read_scanlines(&ci, &row, 1);
    if (st.err.truncated) return refuse("%s", "data ends early (truncated file)");
    if (cmyk) {
      // Adobe writes CMYK inverted (0 = full ink); PIL / libjpeg convention: R = C·K / 255 on inverted data.
      const bool inverted = ci.saw_Adobe_marker;
      for (int x = 0; x < w; ++x) {
        int c = st.row[x * 4], m = st.row[x * 4 + 1], y = st.row[x * 4 + 2], k = st.row[x * 4 + 3];
        if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        dst[x * 3] = static_cast<uint8_t>((c * k + 127) / 255);
        dst[x * 3 + 1] = static_cast<uint8_t>((m * k + 127) / 255);
        dst[x * 3 + 2] = static_cast<uint8_t>((y * k + 127) / 255);
      }
    }
  }
  jpeg_finish_decompress(&ci);
  if (st.err.truncated) return refuse("%s", "data ends early (truncated file)");
  jpeg_destroy_decompress(&ci);
  return true;
}

struct EncodeState {
  jpeg_compress_struct cinfo;
  ErrorMgr err;
  unsigned char* buffer;  // malloc'd by jpeg_mem_dest
  unsigned long size;
};

bool encode_into(EncodeState& st, const Image& img, int quality, const std::vector<uint8_t>& app1) {
  jpeg_compress_struct& ci = st.cinfo;
  ci.err = jpeg_std_error(&st.err.pub);
  st.err.pub.error_exit = on_error;
  st.err.pub.emit_message = on_message;
  st.err.message[0] = '\0';
  st.buffer = nullptr;
  st.size = 0;
  if (setjmp(st.err.jump)) {
    jpeg_destroy_compress(&ci);
    return false;
  }
  jpeg_create_compress(&ci);
  jpeg_mem_dest(&ci, &st.buffer, &st.size);
  ci.image_width = static_cast<JDIMENSION>(img.width);
  ci.image_height = static_cast<JDIMENSION>(img.height);
  ci.input_components = 3;
  ci.in_color_space = JCS_RGB;
  jpeg_set_defaults(&ci);  // YCbCr 4:2:0, JFIF header, Huffman tables of the standard
  jpeg_set_quality(&ci, quality, TRUE);
  jpeg_start_compress(&ci, TRUE);
  if (!app1.empty()) jpeg_write_marker(&ci, JPEG_APP0 + 1, app1.data(), static_cast<unsigned int>(app1.size()));
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(img.rgb.data() + static_cast<size_t>(ci.next_scanline) * img.width * 3);
    jpeg_write_scanlines(&ci, &row, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  return true;
}

}  // namespace

Decoded decode_jpeg(const std::vector<uint8_t>& file, const std::string& path) {
  auto st = std::make_unique<DecodeState>();
  Decoded out;
  if (!decode_into(*st, file, out)) fail("{}: JPEG read failed: {}", path, st->err.message);
  return out;
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality, const std::vector<uint8_t>& exif, const std::string& path) {
  std::vector<uint8_t> app1;
  if (!exif.empty()) {
    static const uint8_t kExifId[6] = {'E', 'x', 'i', 'f', 0, 0};
    app1.assign(kExifId, kExifId + 6);
    app1.insert(app1.end(), exif.begin(), exif.end());
    // A marker segment holds at most 65533 payload bytes (its length field is 16 bits and counts itself).
    if (app1.size() > 65533)
      fail("{}: EXIF block of {} bytes does not fit one JPEG APP1 segment (at most 65533; the parameters text is "
           "too long)", path, app1.size());
  }
  auto st = std::make_unique<EncodeState>();
  const bool ok = encode_into(*st, img, quality, app1);
  std::vector<uint8_t> bytes;
  if (ok && st->buffer) bytes.assign(st->buffer, st->buffer + st->size);
  std::free(st->buffer);
  if (!ok) fail("{}: JPEG write failed: {}", path, st->err.message);
  return bytes;
}

}  // namespace ls::image::detail
