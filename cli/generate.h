// Shared pieces of `lorastack generate` (generate_command.cpp: options, batches; generate_xy.cpp: --xy grids).
#pragma once

#include <ctime>
#include <future>
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
  mutable std::map<std::string, std::string> resolved;  ///< tag name → path (tagged_prompt, once per name)
  std::future<std::string> hash_job;
  std::string hash;
  bool hash_done = false;

  /// --lora arguments, then the prompt's <lora:…> tags, names resolved in --lora-dir.
  std::vector<lorastack::LoraSpec> initial_stack() const;
  /// `prompt` with an A1111 tag (<lora:STEM:W>, pipeline/parameters.h a1111_lora_tag) appended for every adapter
  /// of `stack` that no tag of the prompt names (--lora arguments, --xy LoRA axes), so the saved parameters hold
  /// the whole stack as A1111 writes it. The engine skips tags, so the image does not change.
  std::string tagged_prompt(const std::string& prompt, const std::vector<lorastack::LoraSpec>& stack) const;
  /// Start hashing the model file (A1111 "Model hash") on another thread, while the model loads.
  void start_model_hash();
  /// The hash started by start_model_hash (waits for it); "" for a diffusers folder or an unreadable file.
  std::string model_hash();
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
