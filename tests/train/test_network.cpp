// Trainable networks (src/train/network.h) against the adapter loader: a network with random (non-zero)
// parameters, run in the graph as training runs it, must give the same UNet and text-encoder outputs as its
// saved file loaded by lorastack's own adapter path (kohya names → keymap → math → fused weights), within
// 1e-4 relative (fp32). Also: the model-level gradient of the diffusion loss w.r.t. LoRA parameters against
// central finite differences (tolerance 2e-2 relative to max(|∂L/∂θ|, 1e-3), fp32 forward, ε = 1e-2).
#include <gtest/gtest.h>

#include <filesystem>

#include "adapters/adapter.h"
#include "adapters/stack.h"
#include "io/safetensors.h"
#include "runtime/autograd.h"
#include "tiny.h"
#include "train/diffusion.h"
#include "train/network.h"
#include "train/weight_delta.h"

namespace ls {
namespace {

using testing::randn_tensor;
using testing::tiny_ids;

double max_rel(const Tensor& a, const Tensor& b) {
  double err = 0, ref = 1e-12;
  for (int64_t i = 0; i < a.numel(); ++i) {
    err = std::max(err, static_cast<double>(std::abs(a.f32()[i] - b.f32()[i])));
    ref = std::max(ref, static_cast<double>(std::abs(b.f32()[i])));
  }
  return err / ref;
}

struct Outputs {
  Tensor eps, text;
};

Outputs run(sd::Components& c, const Tensor& ids) {
  Tensor ctx = c.text_encoder->encode(ids, 1);
  Tensor x = randn_tensor({2, 4, 8, 8}, 5);
  Tensor t = Tensor::from_vector({2}, {999.0f, 250.0f});
  return {c.unet->forward(x, t, ctx), ctx};
}

class NetworkRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(NetworkRoundTrip, GraphEqualsSavedFileThroughTheAdapterLoader) {
  const sd::LoadedModel model = sd::load_model(testing::tiny_model_dir());
  const Tensor ids = tiny_ids(2, model.text_config.vocab_size);
  auto c1 = sd::build_components(model);
  const Outputs base = run(*c1, ids);

  train::NetworkConfig cfg;
  cfg.type = train::network_type_from_name(GetParam());
  cfg.rank = 4;
  cfg.alpha = 2.0f;
  cfg.seed = 11;
  train::Network net(*c1, cfg);
  uint32_t seed = 100;
  // LoHa's ΔW is a Hadamard product of two low-rank products: larger factors give a comparable effect
  const float stddev = cfg.type == train::NetworkType::LoHa ? 0.3f : 0.05f;
  for (Tensor* p : net.parameters()) *p = randn_tensor(p->shape(), seed++, stddev);
  net.attach(Device::CPU);
  net.begin_step();
  const Outputs trained = run(*c1, ids);
  net.end_step();
  EXPECT_GT(max_rel(trained.eps, base.eps), 1e-3) << "the network does not change the UNet output";
  EXPECT_GT(max_rel(trained.text, base.text), 1e-3) << "the network does not change the text encoder output";

  const std::string path = ::testing::TempDir() + "/net_" + GetParam() + ".safetensors";
  io::write_safetensors(path, net.state_dict(DType::F32), {{"ss_network_module", net.network_module()}});
  auto c2 = sd::build_components(model);
  adapters::ModelParams mp{&c2->unet_params, &c2->text_params, nullptr, &model.unet_config};
  adapters::KeyMap km(mp);
  auto adapter = adapters::load_adapter(path, km, {.strict = true});
  EXPECT_EQ(adapter->report.unused_keys.size(), 0u);
  adapters::AdapterStack stack(mp);
  stack.apply({{adapter, 1.0f, 1.0f}}, adapters::ApplyMode::Fuse);
  const Outputs loaded = run(*c2, ids);
  EXPECT_LE(max_rel(loaded.text, trained.text), 1e-4);
  EXPECT_LE(max_rel(loaded.eps, trained.eps), 1e-4);
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Types, NetworkRoundTrip, ::testing::Values("lora", "locon", "loha", "lokr", "dora"));

TEST(NetworkModules, KohyaModuleSelection) {
  const sd::LoadedModel model = sd::load_model(testing::tiny_model_dir());
  auto c = sd::build_components(model);
  train::Network lora(*c, {.type = train::NetworkType::LoRA, .rank = 4});
  int te = 0, unet = 0, conv3 = 0;
  for (const auto& m : lora.modules()) {
    (m.name.rfind("lora_te_", 0) == 0 ? te : unet)++;
    conv3 += m.conv3x3;
  }
  EXPECT_EQ(te, model.text_config.num_hidden_layers * 6);  // q, k, v, out_proj, fc1, fc2 per layer
  EXPECT_GT(unet, 0);
  EXPECT_EQ(conv3, 0);  // plain LoRA: transformer linears / 1×1 projections only
  train::Network locon(*c, {.type = train::NetworkType::LoCon, .rank = 4, .train_text_encoder = false});
  int conv = 0;
  for (const auto& m : locon.modules()) {
    EXPECT_EQ(m.name.rfind("lora_unet_", 0), 0u) << m.name;
    conv += m.conv3x3;
  }
  EXPECT_GT(conv, 0);
  EXPECT_EQ(train::lokr_factorization(320, -1), (std::pair<int64_t, int64_t>{16, 20}));
  EXPECT_EQ(train::lokr_factorization(768, 8), (std::pair<int64_t, int64_t>{8, 96}));
}

TEST(NetworkGradient, UNetLoRALossAgainstFiniteDifferences) {
  const sd::LoadedModel model = sd::load_model(testing::tiny_model_dir());
  auto c = sd::build_components(model);
  train::Network net(*c, {.type = train::NetworkType::LoCon, .rank = 2, .alpha = 2.0f, .seed = 3});
  uint32_t seed = 300;
  for (Tensor* p : net.parameters()) *p = randn_tensor(p->shape(), seed++, 0.1f);
  net.attach(Device::CPU);
  const Tensor ids = tiny_ids(1, model.text_config.vocab_size);
  const auto schedule = sampling::training_schedule(model.scheduler_config);
  const train::NoisedBatch nb = train::noise_batch(randn_tensor({1, 4, 8, 8}, 9), schedule, {}, 1, 0);
  auto loss_value = [&](bool record) {
    std::unique_ptr<autograd::Tape> tape = record ? std::make_unique<autograd::Tape>() : nullptr;
    Tensor ctx = c->text_encoder->encode(ids, 1);
    Tensor loss = train::diffusion_loss(c->unet->forward(nb.noisy, nb.timesteps, ctx), nb);
    if (record) autograd::backward(loss);
    return static_cast<double>(loss.f32()[0]);
  };
  loss_value(true);
  // check a spread of entries of a UNet module (transformer), a conv module and a text-encoder module
  const auto names = net.parameter_names();
  auto params = net.parameters();
  int checked = 0;
  for (size_t i = 0; i < params.size(); i += std::max<size_t>(1, params.size() / 7)) {
    Tensor& p = *params[i];
    const Tensor g = autograd::grad(p).clone();
    ASSERT_TRUE(g.defined()) << names[i];
    double err = 0, ref = 1e-6;
    for (int64_t j = 0; j < p.numel(); j += std::max<int64_t>(1, p.numel() / 6)) {
      float* v = p.data<float>() + j;
      const float keep = *v;
      *v = keep + 1e-2f;
      const double lp = loss_value(false);
      *v = keep - 1e-2f;
      const double lm = loss_value(false);
      *v = keep;
      err = std::max(err, std::abs((lp - lm) / 2e-2 - g.f32()[j]));
      ref = std::max(ref, static_cast<double>(std::abs(g.f32()[j])));
    }
    EXPECT_LE(err / std::max(ref, 1e-3), 2e-2) << names[i] << " max |grad| " << ref;
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace ls
