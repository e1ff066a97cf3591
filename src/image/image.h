// 8-bit RGB images: codecs (PNG / JPEG / WebP with A1111 metadata), resampling, and conversion from / to tensors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace ls::image {

/// Interleaved 8-bit RGB, row-major, `width × height × 3` bytes.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

/// Decoded VAE output [N, 3, H, W] (nominally [-1, 1]) → N images: clamp(x/2 + 0.5, 0, 1)·255 rounded
/// (the mapping of diffusers' VaeImageProcessor.postprocess + numpy_to_pil).
std::vector<Image> from_tensor(const Tensor& decoded);

/// Image → tensor [1, 3, H, W] in [-1, 1] (x/127.5 − 1), the VAE encoder's input.
Tensor to_tensor(const Image& img);

/// Write a PNG (libpng) with optional tEXt chunks (A1111 stores its generation settings under the key
/// "parameters"). Written atomically (temp file + rename). Throws ls::Error naming the path.
void write_png(const std::string& path, const Image& img, const std::map<std::string, std::string>& text = {});

/// Read a PNG into 8-bit RGB (palette, grey, 16-bit and alpha are converted; alpha is dropped) and its
/// text chunks. Images larger than 16384×16384 are refused. Throws ls::Error naming the path.
Image read_png(const std::string& path, std::map<std::string, std::string>* text = nullptr);

// ---- any format (codecs.cpp, jpeg.cpp, webp.cpp, exif.cpp) ----

/// The largest width or height any reader accepts (larger images are refused before decoding).
inline constexpr int kMaxImageSide = 16384;

/// Read a PNG, JPEG (libjpeg-turbo) or WebP (libwebp; still images only) into 8-bit RGB, choosing the
/// decoder by the file's first bytes (not its extension).
///  * Colour: grey, palette, CMYK / YCCK (Adobe-inverted or not) become RGB; 16-bit is reduced to 8.
///  * Alpha is DROPPED (the RGB under it is kept), as kohya-ss's loader does (PIL `convert("RGB")`) and as
///    read_png always has; compositing onto a background is the caller's choice.
///  * JPEG: the EXIF Orientation tag (1–8) is applied, so the image comes back upright (PIL
///    ImageOps.exif_transpose); PNG and WebP pixels are returned as stored.
///  * `text` (when given) receives the metadata: PNG tEXt / zTXt / iTXt chunks by key; JPEG and WebP EXIF
///    UserComment as "parameters" (where A1111 stores its generation settings).
/// Refused with ls::Error naming the path: sides over kMaxImageSide, files over 1 GiB, headers claiming more
/// pixels than the file's data can encode, JPEGs with more than 500 scans or needing over 1 GiB of libjpeg
/// working memory, truncated or corrupt data, animated WebP. Corrupt EXIF is ignored (no metadata, no
/// rotation), not an error.
Image read_image(const std::string& path, std::map<std::string, std::string>* text = nullptr);

/// Write `img` as PNG, JPEG or WebP, chosen by the extension of `path` (.png, .jpg / .jpeg, .webp; any
/// case). Metadata as A1111 writes it: PNG keeps every `text` entry as a tEXt chunk; JPEG and WebP store
/// text["parameters"] as EXIF UserComment ("UNICODE\0" + UTF-16BE, piexif.helper.UserComment.dump with
/// encoding="unicode") in an EXIF APP1 segment (JPEG) or EXIF chunk (WebP, extended VP8X container).
/// `quality` (1–100) applies to JPEG (libjpeg quality scale, 4:2:0, as PIL's default) and lossy WebP.
/// Written atomically (temp file + rename). Throws ls::Error naming the path for an unknown extension,
/// a JPEG / WebP `text` key other than "parameters", a comment too long for one JPEG segment (≈ 32 K
/// UTF-16 units), WebP sides over 16383, or a failed write.
void write_image(const std::string& path, const Image& img, const std::map<std::string, std::string>& text = {},
                 int quality = 95);

// ---- geometry (resize.cpp) ----

/// Resampling kernels. Auto = Area when neither side grows, else Lanczos: the defaults of kohya-ss's
/// resize_image (cv2.INTER_AREA to shrink, PIL LANCZOS to enlarge).
enum class Filter { Auto, Area, Lanczos };

/// Resize to `width`×`height` with a separable filter evaluated in float and rounded to 8 bits.
///  * Area: each output pixel is the average of the source area it covers, weighted by exact overlap
///    (cv2.INTER_AREA's definition for shrinking; moiré-free).
///  * Lanczos: a = 3, kernel widened by the scale when shrinking, horizontal pass first with its result
///    rounded to 8 bits (PIL Image.resize(LANCZOS), whose intermediate image is 8-bit).
/// Throws ls::Error for an empty source or a target side outside [1, kMaxImageSide].
Image resize(const Image& img, int width, int height, Filter filter = Filter::Auto);

/// The `width`×`height` window whose top-left corner is (`left`, `top`). Throws ls::Error when the window
/// is empty or leaves the image.
Image crop(const Image& img, int left, int top, int width, int height);

/// The centred `width`×`height` window: left = (W − width) / 2, top = (H − height) / 2, rounded down (as
/// kohya-ss trim_and_resize_if_required). Throws ls::Error when the window is larger than the image.
Image center_crop(const Image& img, int width, int height);

/// Mirror left ↔ right (flip augmentation).
Image flip_horizontal(const Image& img);

/// Apply an EXIF Orientation value (1 = as stored, 2 = mirrored, 3 = 180°, 4 = flipped vertically,
/// 5 = transposed, 6 = rotated 90° clockwise to view, 7 = transversed, 8 = rotated 90° counter-clockwise
/// to view) so that the result is upright; values outside 1–8 leave the image unchanged.
Image apply_orientation(const Image& img, int orientation);

}  // namespace ls::image
