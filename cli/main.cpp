// The `lorastack` command: a thin registry of subcommands over include/lorastack/lorastack.h. Each group lives in
// its own file (generate_command.cpp, model_commands.cpp, lora_commands.cpp, models_commands.cpp, ...) and
// registers (subcommand, action) pairs; main() runs the action of the parsed subcommand and turns errors into
// one line on stderr.
#include <CLI/CLI.hpp>

#include <iostream>

#include "toolbox_commands.h"

int main(int argc, char** argv) {
  CLI::App app{"lorastack: Stable Diffusion with stacked LoRA-family adapters"};
  app.require_subcommand(1);

  ToolboxActions actions;
  add_generate_command(app, actions);
  add_model_commands(app, actions);
  add_lora_commands(app, actions);
  add_models_commands(app, actions);
  add_serve_command(app, actions);
  add_train_command(app, actions);

  setup_app_help(app);  // after the commands: its footer is the top level's only

  CLI11_PARSE(app, argc, argv);
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const std::exception& e) {
    std::cerr << "lorastack: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
