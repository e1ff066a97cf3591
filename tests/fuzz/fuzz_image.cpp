// libFuzzer target: image::read_image (format sniffing → libpng / libjpeg-turbo / libwebp, EXIF parsing,
// orientation) on arbitrary file contents; decoded images are then resized and centre-cropped (the
// training-data path) when small.
#include "fuzz_util.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ls::fuzz::ScratchPath path("in.img");
  ls::fuzz::write_file(path.str(), data, size);
  try {
    std::map<std::string, std::string> text;
    ls::image::Image img = ls::image::read_image(path.str(), &text);
    if (img.width <= 0 || img.height <= 0 || img.rgb.size() != static_cast<size_t>(img.width) * img.height * 3)
      std::abort();
    if (static_cast<int64_t>(img.width) * img.height <= (1 << 16)) {
      const int w = img.width / 3 + 1, h = img.height / 2 + 1;
      ls::image::Image small = ls::image::resize(img, w, h);
      ls::image::Image big = ls::image::resize(img, img.width + 7, img.height + 3);
      ls::image::center_crop(big, w, h);
      if (small.rgb.size() != static_cast<size_t>(w) * h * 3) std::abort();
    }
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
