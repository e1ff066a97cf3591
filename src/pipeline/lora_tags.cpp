// Public wrappers over the adapter-naming helpers in adapters/spec.h (A1111 tags, --lora arguments,
// --lora-dir resolution), so front ends need only include/lorastack/lorastack.h.
#include "adapters/spec.h"
#include "lorastack/lorastack.h"
#include "pipeline/limits.h"
#include "runtime/error.h"

namespace lorastack {

namespace {
LoraSpec from_internal(const ls::adapters::LoraSpec& s) { return {s.name, s.unet_strength, s.te_strength, s.block_weights}; }
std::vector<std::string> dirs_of(const std::string& lora_dir) {
  return lora_dir.empty() ? std::vector<std::string>{} : std::vector<std::string>{lora_dir};
}
}  // namespace

std::vector<LoraSpec> extract_lora_tags(std::string& prompt) {
  // Resource limits (pipeline/limits.h): front ends call this, and resolve every tag's name on disk,
  // before Engine::generate and Engine::set_loras see the prompt and the stack.
  if (prompt.size() > limits::kMaxPromptBytes)
    ls::fail("prompt of {} bytes: longer than the limit of {} bytes", prompt.size(), limits::kMaxPromptBytes);
  std::vector<ls::adapters::LoraSpec> found;
  prompt = ls::adapters::extract_prompt_loras(prompt, found);
  if (found.size() > limits::kMaxAdapters)
    ls::fail("prompt has {} LoRA tags, more than the adapter stack limit of {}", found.size(), limits::kMaxAdapters);
  std::vector<LoraSpec> out;
  for (const auto& s : found) out.push_back(from_internal(s));
  return out;
}

std::string resolve_lora(const std::string& name, const std::string& lora_dir) {
  return ls::adapters::resolve_lora_path(name, dirs_of(lora_dir));
}

LoraSpec parse_lora_arg(const std::string& arg, const std::string& lora_dir) {
  LoraSpec s = from_internal(ls::adapters::parse_lora_arg(arg));
  s.path = resolve_lora(s.path, lora_dir);
  return s;
}

}  // namespace lorastack
