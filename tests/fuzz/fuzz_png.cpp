// libFuzzer target: image::read_png (libpng with size limits, text chunks) on arbitrary file contents.
#include "fuzz_util.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ls::fuzz::ScratchPath path("in.png");
  ls::fuzz::write_file(path.str(), data, size);
  try {
    std::map<std::string, std::string> text;
    ls::image::Image img = ls::image::read_png(path.str(), &text);
    if (img.rgb.size() != static_cast<size_t>(img.width) * img.height * 3) std::abort();
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
