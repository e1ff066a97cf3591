// 8-bit RGB images and their conversion from / to decoded tensors.
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

}  // namespace ls::image
