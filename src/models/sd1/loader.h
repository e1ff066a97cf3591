// Loading a Stable Diffusion 1.x / 2.x checkpoint in any of the forms people have, into per-component
// weight sets under diffusers / transformers names, with configs and the detected family.
//
// Accepted forms:
//  * single file, original LDM keys: .safetensors (mmapped), .ckpt / .pt / .pth (zip or legacy pickle,
//    through the restricted unpickler in io/pickle.h) — optionally with an LDM yaml (`--config`, or a
//    sidecar FILE.yaml next to the checkpoint);
//  * diffusers folder: model_index.json + unet/, vae/, text_encoder/, tokenizer/, scheduler/.
// Key mapping LDM → diffusers follows refsuite/README.md §3.2 and diffusers'
// convert_from_ckpt / single_file_utils (read as reference).
#pragma once

#include <string>

#include "io/safetensors.h"
#include "models/sd1/config.h"

namespace ls::sd {

struct LoadedModel {
  std::string source;                  ///< the path given
  Family family = Family::Unknown;
  UNetConfig unet_config;
  VAEConfig vae_config;
  CLIPTextConfig text_config;
  SchedulerConfig scheduler_config;
  io::TensorFile unet;          ///< diffusers UNet2DConditionModel names ("conv_in.weight", ...)
  io::TensorFile vae;           ///< diffusers AutoencoderKL names ("decoder.conv_in.weight", ...)
  io::TensorFile text_encoder;  ///< transformers names with "text_model." prefix
  std::string tokenizer_dir;    ///< folder holding vocab.json + merges.txt if the model has one, else ""
  std::vector<std::string> ignored_keys;  ///< keys of the file not used by any component (DDPM buffers, ...)
};

/// Load `path` (file or diffusers folder). `config_yaml` overrides the LDM config (may be ""). Throws
/// ls::Error naming the file and what is wrong (unreadable, unknown family, missing or mis-shaped keys).
LoadedModel load_model(const std::string& path, const std::string& config_yaml = "");

/// Detect the family from the (LDM or diffusers) tensor names and shapes of a state dict.
Family detect_family(const std::map<std::string, Tensor>& tensors);

}  // namespace ls::sd
