// lorastack against PyTorch (diffusers + transformers + PEFT), numbers generated on the GPU machine and
// committed under tests/train/data/ (the scripts' docstrings say exactly how):
//  * grad_reference.safetensors (make_grad_reference.py): LoCon-set LoRA (r 4, alpha 2) on the tiny model's
//    UNet and text encoder; loss = MSE(unet(noisy, t, te(ids)), target). lorastack's loss and every LoRA
//    gradient must match: loss within 1e-5 relative, each gradient tensor within 1e-3 relative (max-norm), fp32.
//  * diffusers_lora_reference.safetensors (make_diffusers_lora_reference.py): diffusers' load_lora_weights of the
//    UNet half of lscat_lora200.safetensors — a LoRA lorastack trained for 200 steps on the lscat emoji set — gives
//    the UNet eps that lorastack gives with the same file (UNet strength 1, text-encoder strength 0), within 1e-3
//    relative (fp32); the base text encoder's output matches diffusers' within 1e-4.
#include <gtest/gtest.h>

#include "adapters/adapter.h"
#include "adapters/stack.h"
#include "io/safetensors.h"
#include "runtime/autograd.h"
#include "tiny.h"
#include "train/diffusion.h"
#include "train/network.h"

namespace ls {
namespace {

const std::string kData = std::string(LS_SOURCE_DIR) + "/tests/train/data/";

double rel_err(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(DType::F32), y = b.to(DType::F32);
  double err = 0, ref = 1e-30;
  for (int64_t i = 0; i < x.numel(); ++i) {
    err = std::max(err, static_cast<double>(std::abs(x.f32()[i] - y.f32()[i])));
    ref = std::max(ref, static_cast<double>(std::abs(y.f32()[i])));
  }
  return err / ref;
}

TEST(TorchReference, LoRAGradientsOfTheDiffusionLossMatchPEFT) {
  const auto ref = io::read_safetensors(kData + "grad_reference.safetensors");
  const sd::LoadedModel model = sd::load_model(testing::tiny_model_dir());
  auto c = sd::build_components(model);
  train::Network net(*c, {.type = train::NetworkType::LoCon, .rank = 4, .alpha = 2.0f});
  // the reference's parameters, by kohya name; every module of the network must be in the file and vice versa
  const auto names = net.parameter_names();
  auto params = net.parameters();
  size_t found = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(ref.has(names[i])) << "reference lacks " << names[i];
    ASSERT_EQ(ref.get(names[i]).shape(), params[i]->shape()) << names[i];
    *params[i] = ref.get(names[i]).to(DType::F32).clone();
    ++found;
  }
  size_t in_file = 0;
  for (const auto& [k, t] : ref.tensors) in_file += k.rfind("grad.", 0) == 0;
  EXPECT_EQ(found, in_file) << "PEFT adapted modules the network does not (or the reverse)";
  net.attach(Device::CPU);
  train::NoisedBatch nb{ref.get("input.noisy").to(DType::F32), ref.get("input.target").to(DType::F32),
                        ref.get("input.timesteps").to(DType::F32), Tensor::full({2}, 1.0f)};
  autograd::Tape tape;
  const Tensor ctx = c->text_encoder->encode(ref.get("input.ids"), 1);
  const Tensor loss = train::diffusion_loss(c->unet->forward(nb.noisy, nb.timesteps, ctx), nb);
  const double want = ref.get("loss").to(DType::F32).f32()[0];
  EXPECT_NEAR(loss.f32()[0], want, 1e-5 * want);
  autograd::backward(loss);
  // Gradients that are zero in exact arithmetic (a per-channel time-embedding shift right before a GroupNorm whose
  // groups are single channels; self-attention over one token, where q and k cannot matter) come out as ~1e-10
  // rounding noise on both sides: those must stay below 1e-6 of the largest gradient, the rest within 1e-3.
  auto max_abs = [](const Tensor& t) {
    double m = 0;
    for (float v : t.to(DType::F32).f32()) m = std::max(m, static_cast<double>(std::abs(v)));
    return m;
  };
  double global = 0;
  for (const std::string& n : names) global = std::max(global, max_abs(ref.get("grad." + n)));
  double worst = 0;
  std::string worst_name;
  int zeros = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = autograd::grad(*params[i]);
    ASSERT_TRUE(g.defined()) << names[i];
    const Tensor r = ref.get("grad." + names[i]).to(DType::F32);
    const double rmax = max_abs(r), gmax = max_abs(g);
    if (rmax < 1e-6 * global) {
      ++zeros;
      EXPECT_LT(gmax, 1e-6 * global) << names[i] << ": PEFT's gradient is rounding noise, ours is not";
      continue;
    }
    const double e = rel_err(g, r);
    if (e > worst) worst = e, worst_name = names[i];
    EXPECT_LE(e, 1e-3) << names[i];
  }
  std::printf("%d tensors with exactly-zero gradients (both sides < 1e-6 of the largest)\n", zeros);
  std::printf("loss %.7f (PEFT %.7f); worst gradient relative error %.2e (%s) over %zu tensors\n", loss.f32()[0], want,
              worst, worst_name.c_str(), params.size());
}

TEST(TorchReference, DiffusersLoadsALorastackTrainedLoRAToTheSameOutputs) {
  const auto ref = io::read_safetensors(kData + "diffusers_lora_reference.safetensors");
  const sd::LoadedModel model = sd::load_model(testing::tiny_model_dir());
  auto c = sd::build_components(model);
  adapters::ModelParams mp{&c->unet_params, &c->text_params, nullptr, &model.unet_config};
  adapters::KeyMap km(mp);
  adapters::AdapterStack stack(mp);
  const Tensor ctx = c->text_encoder->encode(ref.get("input.ids"), 1);
  EXPECT_LE(rel_err(ctx, ref.get("base.context")), 1e-4);
  auto eps = [&] {
    return c->unet->forward(ref.get("input.noisy").to(DType::F32), ref.get("input.timesteps"), ref.get("base.context"));
  };
  EXPECT_LE(rel_err(eps(), ref.get("base.eps")), 1e-4);
  stack.apply({{adapters::load_adapter(kData + "lscat_lora200.safetensors", km, {.strict = true}), 1.0f, 0.0f}},
              adapters::ApplyMode::Fuse);
  const double e_eps = rel_err(eps(), ref.get("lora.eps"));
  std::printf("with the LoRA: UNet eps %.2e relative to diffusers; the LoRA itself moves eps by %.2e\n", e_eps,
              rel_err(ref.get("lora.eps"), ref.get("base.eps")));
  EXPECT_LE(e_eps, 1e-3);
  EXPECT_GT(rel_err(ref.get("lora.eps"), ref.get("base.eps")), 1e-2);  // the comparison is not vacuous
}

}  // namespace
}  // namespace ls
