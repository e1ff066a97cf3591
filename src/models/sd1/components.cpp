#include "models/sd1/components.h"

#include "models/sd1/params.h"

namespace ls::sd {

std::unique_ptr<Components> build_components(const LoadedModel& model) {
  auto c = std::make_unique<Components>();
  c->unet_params = make_param_table(model.unet, "unet");
  c->vae_params = make_param_table(model.vae, "vae");
  c->text_params = make_param_table(model.text_encoder, "text_encoder");
  c->unet = std::make_unique<UNet2DConditionModel>(c->unet_params, model.unet_config);
  c->vae = std::make_unique<AutoencoderKL>(c->vae_params, model.vae_config);
  c->text_encoder = std::make_unique<CLIPTextModel>(c->text_params, model.text_config);
  return c;
}

}  // namespace ls::sd
