// Training on the GPU (issue 8): the whole LoCon + text-encoder LoRA loss on the tiny refsuite model, its loss and
// every LoRA gradient computed on CUDA in fp32 must equal the CPU's within 1e-4 of the largest gradient (and within
// 1e-4 relative for tensors at least 10 % of it, cosine ≥ 0.999999); in bf16 (frozen model in bf16, fp32 masters)
// within 2e-1 of the largest gradient with the whole gradient's cosine similarity ≥ 0.99 (measured 2026-11-29 on the
// H200: fp32 2.5e-6 of the largest, 9.9e-6 on large tensors, cosine 1.000000; bf16 — not bit-repeatable from run to
// run — 4.7e-2 and 7.9e-2 of the largest in two runs, cosine 0.99889). And `lorastack::train --device cuda` runs, lowers
// the loss and writes an adapter.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "image/image.h"
#include "lorastack/train.h"
#include "models/sd1/components.h"
#include "models/sd1/loader.h"
#include "runtime/autograd.h"
#include "runtime/cuda/backend.h"
#include "sampling/rng.h"
#include "sampling/schedule.h"
#include "train/diffusion.h"
#include "train/network.h"

namespace ls {
namespace {

std::string shared_dir() {
  const char* e = std::getenv("LORASTACK_SHARED_DIR");
  return e ? e : LS_SHARED_DIR;
}
std::string tiny() { return shared_dir() + "/refsuite/model/tiny-sd1"; }

struct LossGrads {
  float loss = 0;
  std::vector<Tensor> grads;
};

LossGrads loss_and_grads(Device dev, DType compute) {
  const sd::LoadedModel model = sd::load_model(tiny());
  auto c = sd::build_components(model);
  if (dev == Device::CUDA)
    for (ParamTable* t : {&c->unet_params, &c->text_params}) t->to_device(dev, compute);
  train::Network net(*c, {.type = train::NetworkType::LoCon, .rank = 4, .alpha = 2.0f, .seed = 3});
  sampling::NoiseGenerator g(21);
  for (Tensor* p : net.parameters()) *p = ops::scale(g.randn(p->shape()), 0.05f);
  net.attach(dev);
  Tensor ids = Tensor::empty({2, 77}, DType::I64);
  for (int64_t i = 0; i < 154; ++i) ids.data<int64_t>()[i] = (i % 77) < 5 ? 3 + i % 50 : model.text_config.vocab_size - 1;
  const auto schedule = sampling::training_schedule(model.scheduler_config);
  const auto nb = train::noise_batch(g.randn({2, 4, 8, 8}), schedule, {}, 5, 0);
  autograd::Tape tape;
  const Tensor ctx = c->text_encoder->encode(ids, 1);
  Tensor noisy = nb.noisy.to_device(dev).to(dev == Device::CUDA ? compute : DType::F32);
  Tensor loss = train::diffusion_loss(c->unet->forward(noisy, nb.timesteps, ctx), nb);
  autograd::backward(loss);
  LossGrads r;
  r.loss = loss.to_device(Device::CPU).to(DType::F32).f32()[0];
  for (Tensor* p : net.parameters()) r.grads.push_back(autograd::grad(*p).to_device(Device::CPU).to(DType::F32));
  return r;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.f32()) m = std::max(m, static_cast<double>(std::abs(v)));
  return m;
}

TEST(CudaTrain, LoRAGradientsEqualTheCpu) {
  const LossGrads cpu = loss_and_grads(Device::CPU, DType::F32);
  for (auto [dt, tol] : {std::pair{DType::F32, 1e-4}, std::pair{DType::BF16, 2e-1}}) {
    const LossGrads gpu = loss_and_grads(Device::CUDA, dt);
    ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
    // Errors are measured against the largest gradient of all (global): gradients that are zero or nearly cancel in
    // exact arithmetic (a per-channel time-embedding shift before a GroupNorm, attention over one token; see
    // tests/train/test_grad_reference.cpp) are rounding noise relative to their own scale on both devices. Tensors
    // whose own scale is at least 10 % of the global one must also match relative to themselves.
    double global = 0;
    for (const Tensor& g : cpu.grads) global = std::max(global, max_abs(g));
    double worst = 0, worst_own = 0;
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      double diff = 0;
      for (int64_t j = 0; j < cpu.grads[i].numel(); ++j)
        diff = std::max(diff, static_cast<double>(std::abs(gpu.grads[i].f32()[j] - cpu.grads[i].f32()[j])));
      worst = std::max(worst, diff / global);
      const double own = max_abs(cpu.grads[i]);
      if (own >= 0.1 * global) worst_own = std::max(worst_own, diff / own);
    }
    // and the direction of the whole update: cosine similarity of all LoRA gradients, concatenated
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < cpu.grads.size(); ++i)
      for (int64_t j = 0; j < cpu.grads[i].numel(); ++j) {
        const double a = gpu.grads[i].f32()[j], b = cpu.grads[i].f32()[j];
        dot += a * b, na += a * a, nb += b * b;
      }
    const double cosine = dot / std::sqrt(na * nb);
    std::printf("  worst difference %.2e of the largest gradient; worst relative error among large tensors %.2e; "
                "cosine %.6f\n", worst, worst_own, cosine);
    if (dt == DType::F32) {
      EXPECT_LE(worst_own, tol);
    }
    EXPECT_GE(cosine, dt == DType::F32 ? 0.999999 : 0.99);
    std::printf("%s: loss %.6f vs cpu %.6f, worst LoRA gradient relative error %.2e over %zu tensors\n", dtype_name(dt),
                gpu.loss, cpu.loss, worst, cpu.grads.size());
    EXPECT_NEAR(gpu.loss, cpu.loss, tol * cpu.loss);
    EXPECT_LE(worst, tol);
  }
}

TEST(CudaTrain, TrainCommandRunsOnTheGpu) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / "cuda_train" / "3_dots";
  fs::create_directories(dir);
  for (int k = 0; k < 3; ++k) {
    image::Image img{64, 64, std::vector<uint8_t>(64 * 64 * 3, static_cast<uint8_t>(60 * k + 40))};
    image::write_png((dir / ("i" + std::to_string(k) + ".png")).string(), img);
    std::ofstream(dir / ("i" + std::to_string(k) + ".txt")) << "dots, shade " << k;
  }
  lorastack::TrainOptions o;
  o.base = tiny();
  o.data_dir = dir.parent_path().string();
  o.output = (dir.parent_path() / "out.safetensors").string();
  o.resolution = 64;
  o.steps = 60;
  o.rank = 4;
  o.learning_rate = 2e-3f;
  o.batch_size = 3;
  o.device = "cuda";
  o.precision = "bf16";
  lorastack::TrainResult r = lorastack::train(o);
  // full fine-tuning in bf16 with fp32 masters: the casts are recorded, so the masters move and the model saves
  auto f = o;
  f.network = "full";
  f.output = (dir.parent_path() / "full.safetensors").string();
  f.steps = 20;
  f.learning_rate = 1e-4f;
  const lorastack::TrainResult rf = lorastack::train(f);
  for (float l : rf.losses) EXPECT_TRUE(std::isfinite(l));
  std::printf("cuda bf16 full fine-tune: loss %.4f → %.4f over 20 steps\n", rf.losses.front(), rf.losses.back());
  EXPECT_TRUE(fs::exists(f.output));
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) first += r.losses[i], last += r.losses[r.losses.size() - 1 - i];
  std::printf("cuda bf16 train: mean loss of the first 10 steps %.4f, last 10 %.4f, %.2f s\n", first / 10, last / 10,
              r.seconds);
  EXPECT_LT(last, first);
  EXPECT_TRUE(fs::exists(o.output));
}

}  // namespace
}  // namespace ls
