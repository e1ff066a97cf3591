// Subcommand groups of the `lorastack` command (generate, model, lora, models), registered by main.cpp.
// Each registered subcommand comes with the action main() runs when that subcommand was parsed.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <utility>
#include <vector>

/// (subcommand, action returning the exit code); main() runs the action of the parsed subcommand inside its
/// try/catch, so ls::Error messages reach the user as one line.
using ToolboxActions = std::vector<std::pair<CLI::App*, std::function<int()>>>;

/// Name, top-level help footer (examples) and one-line parse errors naming the --help to read (app_help.cpp).
void setup_app_help(CLI::App& app);
/// `lorastack generate` (generate_command.cpp).
void add_generate_command(CLI::App& app, ToolboxActions& actions);
/// `lorastack model init|info` (model_commands.cpp).
void add_model_commands(CLI::App& app, ToolboxActions& actions);
/// `lorastack lora inspect|convert|resize|extract|merge`.
void add_lora_commands(CLI::App& app, ToolboxActions& actions);
/// `lorastack models list`.
void add_models_commands(CLI::App& app, ToolboxActions& actions);
/// `lorastack serve` (serve_command.cpp; the server is src/server).
void add_serve_command(CLI::App& app, ToolboxActions& actions);
/// `lorastack train` (train_command.cpp; the trainer is src/train).
void add_train_command(CLI::App& app, ToolboxActions& actions);
/// `lorastack version` (version_command.cpp).
void add_version_command(CLI::App& app, ToolboxActions& actions);
/// What `lorastack --version` and `lorastack version` print: version, git commit, CUDA (several lines).
std::string version_text();
