// libFuzzer target: LoRA adapter files end to end on the tiny SD1 model (random weights from
// sd::init_weights, built once): in-memory safetensors → adapters::parse_adapter (grouping, parts, format and
// algorithm detection, PEFT metadata) → resolve_adapter (key resolution against the model's parameter names,
// shape validation) → AdapterStack::apply in fuse and runtime mode, then clear() (model back to base).
#include <memory>

#include "adapters/adapter.h"
#include "adapters/stack.h"
#include "fuzz_util.h"
#include "io/safetensors.h"
#include "models/sd1/components.h"
#include "models/sd1/init.h"

namespace {

struct TinyModel {
  ls::sd::LoadedModel model;
  std::unique_ptr<ls::sd::Components> comp;
  ls::adapters::ModelParams params;
  std::unique_ptr<ls::adapters::KeyMap> keymap;
  std::unique_ptr<ls::adapters::AdapterStack> stack;
  TinyModel() {
    model = ls::sd::random_model(ls::sd::preset_configs(ls::sd::InitArch::Tiny), 1);
    comp = ls::sd::build_components(model);
    params.unet = &comp->unet_params;
    params.text_encoder = &comp->text_params;
    params.unet_config = &model.unet_config;
    keymap = std::make_unique<ls::adapters::KeyMap>(params);
    stack = std::make_unique<ls::adapters::AdapterStack>(params);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static TinyModel tiny;
  try {
    std::shared_ptr<void> owner(const_cast<uint8_t*>(data), [](void*) {});
    ls::io::TensorFile f = ls::io::parse_safetensors(data, size, owner, "fuzz_lora.safetensors");
    ls::adapters::AdapterFile af = ls::adapters::parse_adapter(f);
    for (const auto& m : af.modules) (void)tiny.keymap->find(m.key);
    ls::adapters::LoadOptions opts;
    opts.strict = size % 2;  // both settings, chosen by the input
    auto adapter = ls::adapters::resolve_adapter(std::move(af), *tiny.keymap, opts);
    try {
      tiny.stack->apply({{adapter, 0.75f, -0.5f}}, ls::adapters::ApplyMode::Fuse);
      tiny.stack->apply({{adapter, 1.0f, 1.0f}}, ls::adapters::ApplyMode::Runtime);
    } catch (const ls::Error& e) {
      ls::fuzz::check_message(e);
    }
    tiny.stack->clear();
  } catch (const ls::Error& e) {
    ls::fuzz::check_message(e);
  }
  return 0;
}
