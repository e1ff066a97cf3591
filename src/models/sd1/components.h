// The three runnable SD1.x / SD2.x components built from a loaded checkpoint, with the ParamTables they
// read their weights from kept alongside (at fixed addresses) so layers' Param* stay valid.
#pragma once

#include <memory>

#include "models/sd1/clip_text.h"
#include "models/sd1/loader.h"
#include "models/sd1/unet.h"
#include "models/sd1/vae.h"

namespace ls::sd {

/// Parameter tables ("unet", "vae", "text_encoder") and the models bound to them. Not copyable or
/// movable (models hold Param* into the tables): keep it behind the unique_ptr `build_components` returns.
/// Adapters edit `unet_params` / `text_params` (Param::value for fusing, Param::side for runtime mode).
struct Components {
  ParamTable unet_params{"unet"};
  ParamTable vae_params{"vae"};
  ParamTable text_params{"text_encoder"};
  std::unique_ptr<UNet2DConditionModel> unet;
  std::unique_ptr<AutoencoderKL> vae;
  std::unique_ptr<CLIPTextModel> text_encoder;

  Components() = default;
  Components(const Components&) = delete;
  Components& operator=(const Components&) = delete;
};

/// Build UNet, VAE and text encoder from `model` (weights under diffusers / transformers names, configs
/// from the loader). Weight tensors are shared with `model` (F32 copies made only for non-F32 storage).
/// Throws ls::Error naming the component and key on a missing or mis-shaped weight.
std::unique_ptr<Components> build_components(const LoadedModel& model);

}  // namespace ls::sd
