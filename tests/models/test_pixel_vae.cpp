// The pixel-unshuffle "VAE" of pixel-space models (models/sd1/config.h VAEConfig::patch_size, issue 9):
// torch.nn.functional.pixel_unshuffle's channel order (out[n, c·p² + i·p + j, y, x] = in[n, c, p·y + i, p·x + j],
// torch docs), an exact inverse, no weights, and the diffusers-folder form `model init --arch emoji` writes.
#include <gtest/gtest.h>

#include <filesystem>

#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "models/sd1/loader.h"
#include "runtime/error.h"

namespace {

using namespace ls;

Tensor ramp(const Shape& s) {
  Tensor t = Tensor::empty(s);
  auto v = t.f32();
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.001f - 1.0f;
  return t;
}

sd::VAEConfig pixel_cfg(int p) {
  sd::VAEConfig c;
  c.patch_size = p;
  c.in_channels = c.out_channels = 3;
  c.latent_channels = 3 * p * p;
  return c;
}

TEST(PixelVae, TorchPixelUnshuffleOrderAndExactInverse) {
  const int p = 4;
  ParamTable none("vae");
  sd::AutoencoderKL vae(none, pixel_cfg(p));
  EXPECT_TRUE(sd::vae_param_shapes(pixel_cfg(p)).empty());
  EXPECT_EQ(pixel_cfg(p).downscale(), 4);
  const int64_t n = 2, c = 3, H = 8, W = 12;
  Tensor x = ramp({n, c, H, W});
  Tensor m = vae.encode_moments(x);
  ASSERT_EQ(m.shape(), (Shape{n, 2 * c * p * p, H / p, W / p}));
  auto xv = x.f32(), mv = m.f32();
  const int64_t h = H / p, w = W / p, L = c * p * p;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < p; ++i)
        for (int64_t j = 0; j < p; ++j)
          for (int64_t y = 0; y < h; ++y)
            for (int64_t xx = 0; xx < w; ++xx) {
              const float want = xv[((b * c + ch) * H + p * y + i) * W + p * xx + j];
              ASSERT_EQ(mv[((b * 2 * L + ch * p * p + i * p + j) * h + y) * w + xx], want);
              ASSERT_EQ(mv[((b * 2 * L + L + ch * p * p + i * p + j) * h + y) * w + xx], -30.0f);  // logvar
            }
  sd::Moments mo = vae.encode(x);
  Tensor back = vae.decode(mo.mean);
  ASSERT_EQ(back.shape(), x.shape());
  for (size_t i = 0; i < xv.size(); ++i) ASSERT_EQ(back.f32()[i], xv[i]);
  EXPECT_THROW(vae.encode_moments(ramp({1, 3, 6, 8})), Error);  // 6 is not a multiple of 4
}

TEST(PixelVae, BadChannelCountsAreErrors) {
  ParamTable none("vae");
  sd::VAEConfig c = pixel_cfg(2);
  c.latent_channels = 4;
  try {
    sd::AutoencoderKL vae(none, c);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("latent_channels = in_channels·p² = 12"), std::string::npos) << e.what();
  }
}

TEST(PixelVae, EmojiFolderHasNoVaeWeightsAndLoads) {
  const auto dir = std::filesystem::temp_directory_path() / "lorastack-test-pixel-vae";
  std::filesystem::remove_all(dir);
  const sd::ModelConfigs cfg = sd::preset_configs(sd::InitArch::Emoji);
  sd::write_initialized_model(cfg, 3, dir.string());
  EXPECT_FALSE(std::filesystem::exists(dir / "vae" / "diffusion_pytorch_model.safetensors"));
  sd::LoadedModel m = sd::load_model(dir.string());
  EXPECT_EQ(m.vae_config.patch_size, 1);
  EXPECT_EQ(m.vae_config.latent_channels, 3);
  EXPECT_EQ(m.vae_config.downscale(), 1);
  EXPECT_EQ(m.unet_config.in_channels, 3);
  EXPECT_EQ(m.scheduler_config.beta_schedule, "linear");
  EXPECT_EQ(m.family, sd::Family::SD1);
  auto comps = sd::build_components(m);
  Tensor img = ramp({1, 3, 64, 64});
  Tensor z = comps->vae->encode(img).mean;
  EXPECT_EQ(z.shape(), (Shape{1, 3, 64, 64}));
  for (size_t i = 0; i < img.f32().size(); ++i) ASSERT_EQ(z.f32()[i], img.f32()[i]);  // patch 1: the identity
  // no single-file form: the error says to give a folder name
  try {
    sd::write_initialized_model(cfg, 3, (dir / "x.safetensors").string());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("give a folder name"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
