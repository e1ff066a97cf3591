// The `lorastack` command: a thin registry of subcommands over include/lorastack/lorastack.h. Each group lives in
// its own file (generate_command.cpp, model_commands.cpp, lora_commands.cpp, models_commands.cpp, ...) and
// registers (subcommand, action) pairs; main() runs the action of the parsed subcommand and turns errors into
// one line on stderr.
#include <unistd.h>

#include <cstdlib>
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "toolbox_commands.h"

namespace {

// libgomp reads OMP_WAIT_POLICY once, when it loads, and by default its idle threads spin. On a machine whose
// cores are busy with other work (a second job, a build, a 2-core CI box) the spinning threads take the cores
// from the ones with work: a training step ran 2× slower beside one busy process than with passive waiting
// (measured with `lorastack train`, see src/runtime/cpu/gemm.cpp). Unless the user chose a policy, start again
// with PASSIVE set.
void prefer_passive_omp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then run on with the active policy
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_omp_wait(argv);
  CLI::App app{"lorastack: Stable Diffusion with stacked LoRA-family adapters"};
  app.require_subcommand(1);

  ToolboxActions actions;
  add_generate_command(app, actions);
  add_model_commands(app, actions);
  add_lora_commands(app, actions);
  add_models_commands(app, actions);
  add_serve_command(app, actions);
  add_train_command(app, actions);
  add_version_command(app, actions);
  std::string version = version_text();
  version.pop_back();  // CLI11 ends the text with its own newline
  app.set_version_flag("--version", version, "print the version, the git commit and whether CUDA is compiled in");

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
