// `lorastack model init|info`: write a random-weight model; describe a checkpoint.
#include <iostream>
#include <memory>

#include "lorastack/lorastack.h"
#include "toolbox_commands.h"

namespace {

struct InitArgs {
  std::string arch, config, out, tokenizer;
  uint64_t seed = 0;
};

}  // namespace

void add_model_commands(CLI::App& app, ToolboxActions& actions) {
  auto* model = app.add_subcommand("model", "model tools");
  model->require_subcommand(1);
  model->footer("Run 'lorastack model COMMAND --help' for a command's options and examples.");
  auto ia = std::make_shared<InitArgs>();
  auto* init = model->add_subcommand("init", "write a random-weight model with the real layout");
  init->add_option("--arch", ia->arch, "sd1 (2.1 GB) | sd2 | tiny (a few MB) | emoji (pixel-space 64×64, the embedded default's layout); "
                   "required unless --config gives the sizes")->check(CLI::IsMember({"sd1", "sd2", "tiny", "emoji"}));
  init->add_option("--tokenizer", ia->tokenizer, "folder with CLIP BPE vocab.json + merges.txt: copied into the model "
                   "folder, the text embedding sized to it (default: a byte-level tokenizer)");
  init->add_option("--config", ia->config, "LDM yaml whose sizes to use");
  init->add_option("--seed", ia->seed, "seed");
  init->add_option("-o,--output", ia->out, "FILE.safetensors (single file) or a folder (diffusers layout)")->required();
  init->footer(
      "Examples:\n"
      "  lorastack model init --arch tiny -o tiny/                # small random model (with a tokenizer) to try things\n"
      "  lorastack model init --arch sd1 --seed 1 -o sd15-random/  # SD1.5-sized, diffusers folder with a tokenizer\n"
      "  lorastack model init --arch emoji --tokenizer tok/ -o emoji-init/  # pixel-space 64×64 emoji layout (issue 9)");
  actions.emplace_back(init, [ia] {
    if (ia->arch.empty() && ia->config.empty())
      throw std::runtime_error("model init: give --arch sd1|sd2|tiny (sd1 writes a 2.1 GB model) or --config FILE.yaml");
    lorastack::init_model(ia->arch.empty() ? "sd1" : ia->arch, ia->config, ia->seed, ia->out, ia->tokenizer);
    std::cout << ia->out << "\n";
    return 0;
  });

  auto info_opts = std::make_shared<lorastack::ModelOptions>();
  info_opts->needs_tokenizer = false;  // describing a checkpoint tokenizes nothing
  auto* info = model->add_subcommand("info", "detect family and sizes of a checkpoint");
  info->add_option("model", info_opts->model, "checkpoint file or diffusers folder")->required();
  info->add_option("--config", info_opts->config_yaml, "LDM yaml config");
  info->footer("Example:\n  lorastack model info v1-5-pruned-emaonly.safetensors");
  actions.emplace_back(info, [info_opts] {
    lorastack::Engine e(*info_opts);
    std::cout << e.describe() << "\n";
    return 0;
  });
}
