// Subcommand groups of the LoRA toolbox (src/toolbox/), registered on the `lorastack` app by main.cpp.
// Each registered subcommand comes with the action main() runs when that subcommand was parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <utility>
#include <vector>

/// (subcommand, action returning the exit code); main() runs the action of the parsed subcommand inside its
/// try/catch, so ls::Error messages reach the user as one line.
using ToolboxActions = std::vector<std::pair<CLI::App*, std::function<int()>>>;

/// `lorastack lora inspect|convert|resize|extract|merge`.
void add_lora_commands(CLI::App& app, ToolboxActions& actions);
/// `lorastack models list`.
void add_models_commands(CLI::App& app, ToolboxActions& actions);
