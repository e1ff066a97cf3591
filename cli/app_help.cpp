// The top-level help footer and one-line parse errors of the `lorastack` command (CLI11 prints two lines and no
// hint of which --help to read by default).
#include <string>

#include "toolbox_commands.h"

namespace {

// The deepest subcommand the parser entered ("lorastack lora merge").
const CLI::App* deepest(const CLI::App* app, std::string& path) {
  path = app->get_name();
  for (;;) {
    auto subs = app->get_subcommands();  // the parsed ones
    if (subs.empty()) return app;
    app = subs.front();
    path += " " + app->get_name();
  }
}

std::string names_of(const CLI::App* app) {
  std::string s;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; }))
    if (!sub->get_name().empty()) s += (s.empty() ? "" : ", ") + sub->get_name();
  return s;
}

}  // namespace

void setup_app_help(CLI::App& app) {
  app.name("lorastack");
  app.footer(
      "Examples:\n"
      "  lorastack generate -m sd15.safetensors -p \"a photo of a cat\" --seed 42 -o cat.png\n"
      "  lorastack generate -m sd15.safetensors -p \"a castle <lora:ink:0.8>\" --lora-dir loras/ -o castle.webp\n"
      "  lorastack lora inspect style.safetensors\n"
      "  lorastack models list ~/models\n"
      "Run 'lorastack COMMAND --help' for a command's options and examples.");
  app.failure_message([](const CLI::App* top, const CLI::Error& e) {
    std::string path;
    const CLI::App* at = deepest(top, path);
    std::string msg = e.what();
    if (msg == "A subcommand is required") msg = "give a command: " + names_of(at);
    for (char& c : msg)
      if (c == '\n') c = ' ';
    return path + ": error: " + msg + " (see '" + path + " --help')\n";
  });
}
