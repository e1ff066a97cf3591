// libFuzzer target: model configuration files.
//   first byte even: the rest is an LDM yaml (v1-inference.yaml style) → sd::configs_from_yaml, then the
//     parameter shapes those configs imply (what the loader validates a checkpoint against);
//   first byte odd: the rest is "<unet/config.json>\0<vae/config.json>\0<text_encoder/config.json>\0
//     <scheduler/scheduler_config.json>", written into a diffusers folder that holds the tiny model's real
//     weights (made once by sd::write_initialized_model); an empty part keeps the valid file. The folder is
//     then loaded with sd::load_model (config parsing, family detection, shape validation).
#include "fuzz_util.h"
#include "models/sd1/init.h"
#include "models/sd1/loader.h"

namespace {

struct TinyFolder {
  ls::fuzz::ScratchPath dir{"diffusers"};
  std::string configs[4];
  const char* files[4] = {"unet/config.json", "vae/config.json", "text_encoder/config.json",
                          "scheduler/scheduler_config.json"};
  TinyFolder() {
    auto cfg = ls::sd::preset_configs(ls::sd::InitArch::Tiny);
    ls::sd::write_initialized_model(cfg, 1, dir.str());
    for (int i = 0; i < 4; ++i) {
      std::ifstream in(dir.str() + "/" + files[i], std::ios::binary);
      configs[i].assign(std::istreambuf_iterator<char>(in), {});
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool diffusers = data[0] & 1;
  ++data;
  --size;
  try {
    if (!diffusers) {
      static ls::fuzz::ScratchPath path("config.yaml");
      ls::fuzz::write_file(path.str(), data, size);
      ls::sd::ModelConfigs c = ls::sd::configs_from_yaml(path.str());
      (void)ls::sd::unet_param_shapes(c.unet);
      (void)ls::sd::vae_param_shapes(c.vae);
      (void)ls::sd::text_param_shapes(c.text);
    } else {
      static TinyFolder folder;
      auto parts = ls::fuzz::split(data, size, std::string_view("\0", 1), 4);
      for (int i = 0; i < 4; ++i) {
        const std::string_view text = parts[i].empty() ? std::string_view(folder.configs[i]) : parts[i];
        ls::fuzz::write_file(folder.dir.str() + "/" + folder.files[i], text.data(), text.size());
      }
      ls::sd::LoadedModel m = ls::sd::load_model(folder.dir.str());
      (void)m;
    }
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
