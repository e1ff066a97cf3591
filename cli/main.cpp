// The `lorastack` command: thin front end over include/lorastack/lorastack.h.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <unistd.h>

#include "lorastack/lorastack.h"
#include "toolbox_commands.h"

namespace {

struct GenerateArgs {
  lorastack::ModelOptions model;
  lorastack::GenerateRequest req;
  std::vector<std::string> loras;
  std::string lora_dir;
  std::string lora_mode = "auto";
  bool lora_strict = false;
  std::string out = "output.png";
};

int run_generate(GenerateArgs& a) {
  lorastack::Engine engine(a.model);
  std::cerr << engine.describe() << "\n";
  std::vector<lorastack::LoraSpec> stack;
  for (const auto& l : a.loras) stack.push_back(lorastack::parse_lora_arg(l, a.lora_dir));
  std::string tag_free = a.req.prompt;  // the prompt keeps its tags (A1111 saves them); the engine skips them
  for (auto& t : lorastack::extract_lora_tags(tag_free)) {
    t.path = lorastack::resolve_lora(t.path, a.lora_dir);
    stack.push_back(t);
  }
  lorastack::LoraMode mode = a.lora_mode == "fuse"      ? lorastack::LoraMode::Fuse
                             : a.lora_mode == "runtime" ? lorastack::LoraMode::Runtime
                                                        : lorastack::LoraMode::Auto;
  if (!stack.empty()) {
    auto reports = engine.set_loras(stack, mode, a.lora_strict);
    for (const auto& r : reports) {
      std::cerr << "lora " << r.path << ": " << r.format << ", " << r.algorithms << ", " << r.matched_modules
                << " modules matched (unet " << r.unet_modules << ", te " << r.te_modules << "), "
                << r.unused_keys.size() << " unused keys";
      for (size_t i = 0; i < r.unused_keys.size() && i < 5; ++i) std::cerr << (i ? ", " : ": ") << r.unused_keys[i];
      std::cerr << "\n";
    }
  }
  const bool tty = isatty(STDERR_FILENO);
  auto progress = [&](int step, int total) {
    if (tty) {
      std::fprintf(stderr, "\rstep %d/%d", step, total);
      if (step == total) std::fprintf(stderr, "\n");
    } else {
      std::fprintf(stderr, "step %d/%d\n", step, total);
    }
  };
  auto result = engine.generate(a.req, progress);
  for (size_t i = 0; i < result.images.size(); ++i) {
    std::string path = a.out;
    if (result.images.size() > 1) {
      auto dot = path.rfind('.');
      std::string stem = dot == std::string::npos ? path : path.substr(0, dot);
      std::string ext = dot == std::string::npos ? ".png" : path.substr(dot);
      path = stem + "-" + std::to_string(i) + ext;
    }
    lorastack::write_png(path, result.images[i], result.parameters);
    std::cout << path << "\n";
  }
  std::cerr << "done in " << result.seconds << " s\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lorastack: Stable Diffusion with stacked LoRA-family adapters"};
  app.require_subcommand(1);

  GenerateArgs g;
  auto* gen = app.add_subcommand("generate", "text to image");
  gen->add_option("-m,--model", g.model.model, "checkpoint file or diffusers folder")->required();
  gen->add_option("--config", g.model.config_yaml, "LDM yaml config");
  gen->add_option("--tokenizer", g.model.tokenizer_dir, "folder with vocab.json and merges.txt");
  gen->add_option("--prediction", g.model.prediction_type, "epsilon | v_prediction (default: from the model)");
  gen->add_option("--threads", g.model.threads, "CPU threads (0 = all)");
  gen->add_option("--device", g.model.device, "cpu | cuda | cuda:N (GPU backend, when built with CUDA)");
  gen->add_option("--precision", g.model.precision, "fp32 | fp16 | bf16 (CUDA compute precision)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  gen->add_option("-p,--prompt", g.req.prompt, "prompt")->required();
  gen->add_option("-n,--negative-prompt", g.req.negative_prompt, "negative prompt");
  gen->add_option("--steps", g.req.steps, "sampling steps")->check(CLI::Range(1, 1000));
  gen->add_option("--cfg-scale", g.req.cfg_scale, "classifier-free guidance scale");
  gen->add_option("--sampler", g.req.sampler, "euler | euler_a | dpm++2m | ddim");
  gen->add_option("--scheduler", g.req.scheduler, "normal | karras");
  gen->add_option("--seed", g.req.seed, "seed");
  gen->add_option("-W,--width", g.req.width, "width in pixels (multiple of 8)")->check(CLI::Range(8, 8192));
  gen->add_option("-H,--height", g.req.height, "height in pixels (multiple of 8)")->check(CLI::Range(8, 8192));
  gen->add_option("-b,--batch-size", g.req.batch_size, "images per batch")->check(CLI::Range(1, 64));
  gen->add_option("--clip-skip", g.req.clip_skip, "1 = last layer, 2 = penultimate")->check(CLI::Range(1, 12));
  gen->add_option("--initial-noise", g.req.initial_noise, "safetensors with the starting noise (B,4,H/8,W/8)");
  gen->add_option("--save-latents", g.req.save_latents, "write final latents (tensor 'latents') here");
  gen->add_option("--lora", g.loras, "PATH_OR_NAME[:STRENGTH[:TE_STRENGTH]] (repeatable)");
  gen->add_option("--lora-dir", g.lora_dir, "folder where LoRA names resolve");
  gen->add_option("--lora-mode", g.lora_mode, "fuse | runtime | auto")->check(CLI::IsMember({"fuse", "runtime", "auto"}));
  gen->add_flag("--lora-strict", g.lora_strict, "unused adapter keys are errors");
  gen->add_option("-o,--output", g.out, "output PNG");

  auto* model = app.add_subcommand("model", "model tools");
  model->require_subcommand(1);
  std::string arch = "sd1", init_cfg, init_out;
  uint64_t init_seed = 0;
  auto* init = model->add_subcommand("init", "write a random-weight model with the real layout");
  init->add_option("--arch", arch, "sd1 | sd2 | tiny")->check(CLI::IsMember({"sd1", "sd2", "tiny"}));
  init->add_option("--config", init_cfg, "LDM yaml whose sizes to use");
  init->add_option("--seed", init_seed, "seed");
  init->add_option("-o,--output", init_out, "FILE.safetensors (single file) or a folder (diffusers layout)")->required();

  lorastack::ModelOptions info_opts;
  auto* info = model->add_subcommand("info", "detect family and sizes of a checkpoint");
  info->add_option("model", info_opts.model, "checkpoint file or diffusers folder")->required();
  info->add_option("--config", info_opts.config_yaml, "LDM yaml config");

  ToolboxActions toolbox;
  add_lora_commands(app, toolbox);
  add_models_commands(app, toolbox);

  CLI11_PARSE(app, argc, argv);
  try {
    if (gen->parsed()) return run_generate(g);
    for (auto& [sub, action] : toolbox)
      if (sub->parsed()) return action();
    if (init->parsed()) {
      lorastack::init_model(arch, init_cfg, init_seed, init_out);
      std::cout << init_out << "\n";
      return 0;
    }
    if (info->parsed()) {
      lorastack::Engine e(info_opts);
      std::cout << e.describe() << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "lorastack: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
