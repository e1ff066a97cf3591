// `lorastack --version` and `lorastack version`: the CMake project() version (pipeline/parameters.h version()),
// the git commit the build was configured from, and whether the CUDA backend is compiled in.
#include <iostream>
#include <string>

#include "pipeline/parameters.h"
#include "toolbox_commands.h"
#include "version_info.h"

std::string version_text() {
  const std::string commit = LS_GIT_COMMIT;
  std::string s = "lorastack " + lorastack::version() + "\n";
  s += "git commit: " + (commit.empty() ? std::string("unknown (not configured from a git checkout)") : commit) + "\n";
  if (LS_CUDA_COMPILED)
    s += std::string("CUDA: compiled in (") + (LS_CUDNN_COMPILED ? "with" : "without") + " cuDNN); use --device cuda\n";
  else
    s += "CUDA: not compiled in (CPU only)\n";
  return s;
}

void add_version_command(CLI::App& app, ToolboxActions& actions) {
  auto* v = app.add_subcommand("version", "print the version, the git commit and whether CUDA is compiled in");
  actions.emplace_back(v, [] {
    std::cout << version_text();
    return 0;
  });
}
