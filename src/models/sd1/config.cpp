#include "models/sd1/config.h"

namespace ls::sd {

const char* family_name(Family f) {
  switch (f) {
    case Family::SD1: return "SD1.x";
    case Family::SD2: return "SD2.x";
    case Family::SDXL: return "SDXL";
    case Family::Unknown: break;
  }
  return "unknown";
}

int VAEConfig::downscale() const {
  return patch_size > 0 ? patch_size : 1 << (static_cast<int>(block_out_channels.size()) - 1);
}

}  // namespace ls::sd
