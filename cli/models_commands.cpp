// `lorastack models list`: checkpoints and adapters under folders, with family and type (src/toolbox/scan.h).
#include <iostream>
#include <memory>

#include "toolbox/scan.h"
#include "toolbox_commands.h"

namespace {

struct ListArgs {
  std::vector<std::string> roots{"."};
  bool json = false;
};

}  // namespace

void add_models_commands(CLI::App& app, ToolboxActions& actions) {
  auto* models = app.add_subcommand("models", "find the models and adapters in folders");
  models->require_subcommand(1);
  models->footer("Run 'lorastack models list --help' for its options and examples.");
  auto a = std::make_shared<ListArgs>();
  auto* list = models->add_subcommand(
      "list",
      "list checkpoints (single file, diffusers folder, ckpt) and adapters found recursively, with family and "
      "type; reads headers only");
  list->add_option("dirs", a->roots, "folders or files to scan (default: the current folder)");
  list->add_flag("--json", a->json, "print JSON");
  list->footer(
      "Examples:\n"
      "  lorastack models list ~/models ~/loras\n"
      "  lorastack models list --json . > inventory.json");
  actions.emplace_back(list, [a] {
    auto found = ls::toolbox::scan_models(a->roots);
    if (a->json) std::cout << ls::toolbox::models_json(found).dump(2) << "\n";
    else std::cout << ls::toolbox::models_table(found);
    if (found.empty()) std::cerr << "no checkpoints or adapters (.safetensors, .ckpt, .pt, .pth, .bin) found\n";
    return 0;
  });
}
