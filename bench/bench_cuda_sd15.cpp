// SD1.5 at its real size (random weights from sd::init_weights, the `lorastack model init --arch sd1` layout)
// on the CUDA backend: one UNet step with CFG (batch 2: uncond + cond) at 512×512 (latent 64×64, context
// 77×768) and one VAE decode 64×64 → 512×512, in each precision given (default: fp32 fp16 bf16).
// Prints the median seconds per call over `reps` timed calls (after 2 warm-ups, each call synchronised),
// TFLOP/s from the op layer's FLOP count (2·M·N·K per GEMM-like op) and the allocator's peak bytes.
// Each precision runs in several configurations in the same process: convolutions through im2col + cuBLAS
// ("im2col", the path before cuDNN), cuDNN always ("cudnn"), or per shape the faster of the two ("auto", the
// default); for F16 / BF16 also with the GEMM attention path ("gemm-attn", the default before the flash kernel)
// against the flash kernel (the default now). The last line per precision is the default configuration. The op lines add the gradient kernels at SD1.5 sizes
// (conv backward data / filter, attention, GroupNorm) for the training side.
// Run: bench_cuda_sd15 [reps=5] [fp32|fp16|bf16 ...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "runtime/cuda/backend.h"
#include "runtime/ops.h"
#include "runtime/ops_backward.h"
#include "sampling/rng.h"

namespace {

/// Median seconds of `reps` synchronised calls of f (after 2 warm-ups) and FLOPs per call.
template <typename F> std::pair<double, double> time_it(int reps, F&& f) {
  for (int i = 0; i < 2; ++i) f();
  ls::cuda::synchronize();
  std::vector<double> s;
  ls::ops::reset_flops();
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ls::cuda::synchronize();
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(s.begin(), s.end());
  return {s[s.size() / 2], static_cast<double>(ls::ops::flops()) / reps};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
    std::vector<std::string> precisions;
    for (int i = 2; i < argc; ++i) precisions.push_back(argv[i]);
    if (precisions.empty()) precisions = {"fp32", "fp16", "bf16"};
    std::printf("device: %s\n", ls::cuda::device_name().c_str());
    const std::string backend = ls::cuda::conv_backend();
    std::printf("conv backend: %s\n", backend.c_str());
    const bool have_cudnn = backend.rfind("cuDNN", 0) == 0;
    using ls::cuda::ConvMode;
    std::vector<ConvMode> conv_modes{ConvMode::Im2col};
    if (have_cudnn) conv_modes = {ConvMode::Cudnn, ConvMode::Im2col};
    auto mode_name = [](ConvMode m) { return m == ConvMode::Auto ? "auto" : m == ConvMode::Cudnn ? "cudnn" : "im2col"; };

    const auto t0 = std::chrono::steady_clock::now();
    auto cfg = ls::sd::preset_configs(ls::sd::InitArch::SD1);
    auto w = ls::sd::init_weights(cfg, 1);
    ls::sd::LoadedModel model;
    model.unet_config = cfg.unet;
    model.vae_config = cfg.vae;
    model.text_config = cfg.text;
    model.unet.tensors = std::move(w.unet);
    model.vae.tensors = std::move(w.vae);
    model.text_encoder.tensors = std::move(w.text);
    auto comp = ls::sd::build_components(model);
    std::printf("random SD1.5 built in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

    ls::sampling::NoiseGenerator rng(0);
    const ls::Tensor x = rng.randn({2, 4, 64, 64});
    const ls::Tensor ctx_host = rng.randn({2, 77, 768});
    const ls::Tensor t = ls::Tensor::full({2}, 500.0f);
    const ls::Tensor z = rng.randn({1, 4, 64, 64});

    std::printf("%-6s %-36s %10s %10s %12s\n", "prec", "what", "s/call", "TFLOP/s", "peak GiB");
    for (const std::string& p : precisions) {
      const ls::DType dt = p == "fp16" ? ls::DType::F16 : p == "bf16" ? ls::DType::BF16 : ls::DType::F32;
      const auto u0 = std::chrono::steady_clock::now();
      // from the CPU F32 values each time (set_value path), so every precision sees the same weights
      for (ls::ParamTable* tb : {&comp->unet_params, &comp->vae_params})
        for (auto& [name, prm] : tb->all()) {
          prm.device = ls::Device::CUDA;
          prm.compute = dt;
          prm.set_value(prm.base);
        }
      ls::cuda::synchronize();
      const double upload = std::chrono::duration<double>(std::chrono::steady_clock::now() - u0).count();
      const ls::Tensor ctx = ctx_host.to_device(ls::Device::CUDA).to(dt);
      // conv backend × attention kernel; the last configuration is the default (auto convolutions, flash)
      const bool flash_default = ls::cuda::flash_attention_enabled();
      std::vector<std::pair<ConvMode, bool>> modes;  // (conv mode, flash attention)
      const bool half = dt != ls::DType::F32;
      modes.push_back({ConvMode::Im2col, false});
      if (have_cudnn) modes.push_back({ConvMode::Cudnn, false});
      if (have_cudnn) modes.push_back({ConvMode::Auto, false});
      if (half) modes.push_back({ConvMode::Auto, true});
      for (auto [cm, flash] : modes) {
        ls::cuda::set_conv_mode(cm);
        ls::cuda::set_flash_attention(flash);
        const std::string tag = std::string(" [") + mode_name(cm) + (half ? (flash ? "+flash]" : "+gemm-attn]") : "]");
        ls::cuda::reset_peak();
        auto [su, fu] = time_it(reps, [&] { (void)comp->unet->forward(x, t, ctx).to_device(ls::Device::CPU); });
        const double peak_u = ls::cuda::peak_bytes() / double(1ull << 30);
        ls::cuda::reset_peak();
        auto [sv, fv] =
            time_it(std::max(1, reps / 2), [&] { (void)comp->vae->decode(z).to_device(ls::Device::CPU); });
        const double peak_v = ls::cuda::peak_bytes() / double(1ull << 30);
        std::printf("%-6s %-36s %10.4f %10.1f %12.2f\n", p.c_str(), ("unet step CFG b2 512" + tag).c_str(), su,
                    fu / su / 1e12, peak_u);
        std::printf("%-6s %-36s %10.4f %10.1f %12.2f\n", p.c_str(), ("vae decode b1 512" + tag).c_str(), sv,
                    fv / sv / 1e12, peak_v);
        std::printf("%-6s %-36s %10.2f   (20 steps + decode, text encoder excluded; weights upload %.2f s)\n",
                    p.c_str(), ("est. image s" + tag).c_str(), 20 * su + sv, upload);
        std::fflush(stdout);
      }
      ls::cuda::set_conv_mode(ConvMode::Auto);
      ls::cuda::set_flash_attention(flash_default);
      ls::cuda::empty_cache();
    }
    // Hot ops at SD1.5 sizes, for a time breakdown (fp16 unless the only precision asked is another).
    const ls::DType dt = precisions.size() == 1 && precisions[0] != "fp16"
                             ? (precisions[0] == "bf16" ? ls::DType::BF16 : ls::DType::F32)
                             : ls::DType::F16;
    auto dev = [&](const ls::Shape& sh, uint64_t seed) {
      ls::sampling::NoiseGenerator g(seed);
      return g.randn(sh).to_device(ls::Device::CUDA).to(dt);
    };
    auto op_line = [&](const char* what, auto&& f) {
      auto [sec, fl] = time_it(reps * 4, f);
      std::printf("op %-40s %9.3f ms %8.1f TFLOP/s\n", what, sec * 1e3, fl / sec / 1e12);
    };
    {
      const ls::Tensor h = dev({2, 320, 64, 64}, 1), g = dev({320}, 2), w3 = dev({320, 320, 3, 3}, 3),
                       q = dev({2, 4096, 320}, 4), c = dev({2, 77, 320}, 5), wff = dev({2560, 320}, 6),
                       vh = dev({1, 128, 512, 512}, 7), vg = dev({128}, 8), vw = dev({128, 128, 3, 3}, 9);
      op_line("group_norm+silu [2,320,64,64]", [&] { (void)ls::ops::group_norm(h, 32, g, g, 1e-5f, true); });
      for (ConvMode cm : conv_modes) {
        ls::cuda::set_conv_mode(cm);
        const std::string tag = std::string(" [") + mode_name(cm) + "]";
        op_line(("conv3x3 320->320 [2,320,64,64]" + tag).c_str(),
                [&] { (void)ls::ops::conv2d(h, w3, ls::Tensor{}, 1, 1); });
        op_line(("vae conv3x3 128->128 [1,128,512,512]" + tag).c_str(),
                [&] { (void)ls::ops::conv2d(vh, vw, ls::Tensor{}, 1, 1); });
        // gradients: FLOPs counted by hand (the op layer counts forward ops only): 2·N·O·OH·OW·C·k² each
        const double conv_flops = 2.0 * 2 * 320 * 64 * 64 * 320 * 9;
        auto grad_line = [&](const char* what, auto&& f) {
          auto [sec, fl] = time_it(reps * 4, f);
          (void)fl;
          std::printf("op %-40s %9.3f ms %8.1f TFLOP/s\n", what, sec * 1e3, conv_flops / sec / 1e12);
        };
        grad_line(("conv3x3 320 backward-data" + tag).c_str(),
                  [&] { (void)ls::ops::conv2d_backward_input(h, w3, h.shape(), 1, 1, 1); });
        grad_line(("conv3x3 320 backward-filter" + tag).c_str(),
                  [&] { (void)ls::ops::conv2d_backward_weight(h, h, w3.shape(), 1, 1, 1); });
      }
      ls::cuda::set_conv_mode(ConvMode::Auto);
      const bool flash_default = ls::cuda::flash_attention_enabled();
      ls::cuda::set_flash_attention(false);
      op_line("self-attention [2,4096,320] h8 (gemm)", [&] { (void)ls::ops::attention(q, q, q, 8); });
      op_line("cross-attention [2,4096,320]x77 h8 (gemm)", [&] { (void)ls::ops::attention(q, c, c, 8); });
      ls::cuda::set_flash_attention(true);
      op_line("self-attention (flash kernel)", [&] { (void)ls::ops::attention(q, q, q, 8); });
      op_line("cross-attention x77 (flash kernel)", [&] { (void)ls::ops::attention(q, c, c, 8); });
      {
        const ls::Tensor q80 = dev({2, 1024, 640}, 10), q160 = dev({2, 256, 1280}, 11);
        op_line("self-attention [2,1024,640] h8 d80 (flash)", [&] { (void)ls::ops::attention(q80, q80, q80, 8); });
        op_line("self-attention [2,256,1280] h8 d160 (flash)", [&] { (void)ls::ops::attention(q160, q160, q160, 8); });
        ls::cuda::set_flash_attention(false);
        op_line("self-attention [2,1024,640] h8 d80 (gemm)", [&] { (void)ls::ops::attention(q80, q80, q80, 8); });
        op_line("self-attention [2,256,1280] h8 d160 (gemm)", [&] { (void)ls::ops::attention(q160, q160, q160, 8); });
      }
      ls::cuda::set_flash_attention(flash_default);
      {
        auto [sec, fl] = time_it(reps * 2, [&] { (void)ls::ops::attention_backward(q, q, q, q, 8, false); });
        (void)fl;
        // 5 GEMMs of 2·B·L²·(H·D) each: QKᵀ recomputed, dV, dP, dQ, dK
        const double f = 5.0 * 2 * 2 * 4096.0 * 4096.0 * 320;
        std::printf("op %-40s %9.3f ms %8.1f TFLOP/s\n", "self-attention backward [2,4096,320] h8", sec * 1e3,
                    f / sec / 1e12);
      }
      op_line("group_norm+silu backward [2,320,64,64]",
              [&] { (void)ls::ops::group_norm_backward(h, h, 32, g, g, 1e-5f, true); });
      op_line("linear ff [8192,320]->2560", [&] { (void)ls::ops::linear(q, wff); });
      op_line("add [2,320,64,64]", [&] { (void)ls::ops::add(h, h); });
      op_line("nchw_to_nlc [2,320,64,64]", [&] { (void)ls::ops::nchw_to_nlc(h); });
      op_line("vae group_norm+silu [1,128,512,512]", [&] { (void)ls::ops::group_norm(vh, 32, vg, vg, 1e-6f, true); });
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_sd15: %s\n", e.what());
    return 1;
  }
  return 0;
}
