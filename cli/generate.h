// Shared pieces of `lorastack generate` (generate_command.cpp: options, batches; generate_xy.cpp: --xy grids).
#pragma once

#include <ctime>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "lorastack/lorastack.h"
#include "toolbox/name_pattern.h"

struct GenerateArgs {
  lorastack::ModelOptions model;
  lorastack::GenerateRequest req;
  std::vector<std::string> loras;
  std::string lora_dir;
  std::string lora_mode = "auto";
  bool lora_strict = false;
  std::string out = "output.png";
  int batch_count = 1;
  int quality = 95;
  std::vector<std::string> xy;
  std::string font;
  bool quiet = false;
};

/// One run's output naming and writing; checks the -o pattern and its format when made (before the model loads).
struct GenerateSession {
  explicit GenerateSession(GenerateArgs& args);
  GenerateArgs& a;
  ls::toolbox::NamePattern pattern;
  std::time_t started;
  std::set<std::string> written;

  /// --lora arguments, then the prompt's <lora:…> tags, names resolved in --lora-dir.
  std::vector<lorastack::LoraSpec> initial_stack() const;
  /// Engine::set_loras with --lora-mode / --lora-strict; `report`: one line per adapter on stderr.
  void apply_stack(lorastack::Engine& engine, const std::vector<lorastack::LoraSpec>& stack, bool report);
  /// The fields of toolbox/name_pattern.h for one image.
  std::map<std::string, std::string> name_values(const lorastack::GenerateRequest& req,
                                                 const std::vector<lorastack::LoraSpec>& stack, uint64_t seed,
                                                 int64_t n, int64_t batch, int64_t pos) const;
  /// The rendered name of image `n` of `total` ("-N" appended when the pattern has no per-image field).
  std::string output_path(const std::map<std::string, std::string>& values, int64_t n, int64_t total);
  /// Write the image (format by extension, folders created) with its parameters; print the path on stdout.
  void save(const std::string& path, const lorastack::Image& img, const std::string& parameters) const;
};

int run_generate(GenerateArgs& a);
/// --xy: every combination of the axes, one labelled grid image.
int run_xy(GenerateArgs& a);
