// Trainable networks on an SD1.x / SD2.x model: LoRA, LoCon, LoHa, LoKr, DoRA (low-rank adapters trained
// while the base stays frozen) and full fine-tuning. The module set, initialisation, naming and metadata
// follow kohya sd-scripts (networks/lora.py, LyCORIS for loha / lokr / dora), so the saved file loads
// wherever kohya LoRAs load (A1111, ComfyUI, diffusers load_lora_weights, and lorastack itself).
//
// How a network plugs into the model graph (runtime/module.h):
//  * LoRA / LoCon add a SidePath to each targeted Param: y += (α/r)·up(down(x)) (Hu et al. 2021, eq. 3),
//    computed from trainable leaves, so the autograd tape reaches them.
//  * LoHa / LoKr / DoRA rebuild the weight each step, W′ = W + ΔW(θ) (LoHa: Hyeon-Woo et al. 2022;
//    LoKr: Yeh et al. 2024 (LyCORIS); DoRA: Liu et al. 2024, W′ = m ⊙ (W+ΔW)/‖W+ΔW‖_row), recorded on the
//    tape, and put W′ into Param::value for that step (begin_step / end_step).
//  * full: every Param::value of the trained components becomes a trainable leaf (fp32 master weights).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/sd1/components.h"
#include "runtime/module.h"

namespace ls::train {

enum class NetworkType { LoRA, LoCon, LoHa, LoKr, DoRA, Full };

/// "lora", "locon", "loha", "lokr", "dora", "full" → type; throws ls::Error naming the value otherwise.
NetworkType network_type_from_name(const std::string& name);
const char* network_type_name(NetworkType t);

struct NetworkConfig {
  NetworkType type = NetworkType::LoRA;
  int rank = 16;             ///< network_dim: rank of linear / 1×1 modules
  float alpha = 8.0f;        ///< network_alpha: the update is scaled by alpha / rank
  int conv_rank = 0;         ///< rank of 3×3 convs (LoCon / LoHa / LoKr / DoRA; 0 = same as rank)
  float conv_alpha = 0.0f;   ///< 0 = same as alpha
  int lokr_factor = -1;      ///< LoKr: Kronecker factor (−1 = as balanced as possible, LyCORIS default)
  bool train_unet = true;
  bool train_text_encoder = true;
  uint64_t seed = 0;         ///< initialisation seed
};

/// One trainable module: its kohya name, the Param it adapts and its trainable tensors by file suffix
/// ("lora_down.weight", "lora_up.weight", "hada_w1_a", "lokr_w1", "dora_scale", ...).
struct TrainModule {
  std::string name;      ///< "lora_unet_down_blocks_0_attentions_0_proj_in" / "lora_te_text_model_..."
  Param* target = nullptr;
  bool conv3x3 = false;  ///< a k×k (k > 1) convolution (conv rank / alpha apply)
  int rank = 0;
  float alpha = 0.0f;
  std::map<std::string, Tensor> tensors;  ///< F32 trainable leaves (on the training device)
};

/// A network bound to a model's components. Attaching changes the model (side paths, values) until
/// the network is destroyed or detach() runs.
class Network {
 public:
  /// Create the modules for `cfg` on `comps` (kohya's module selection; init as kohya / LyCORIS:
  /// down / w*_a kaiming-uniform(a=√5), up / w*_b zeros, so ΔW = 0 at step 0). Throws ls::Error when no
  /// module matches (e.g. both components disabled).
  Network(sd::Components& comps, const NetworkConfig& cfg);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  /// Put every trainable tensor on `device` (F32) and attach side paths. Call once before training.
  void attach(Device device);
  /// Remove side paths and restore every Param::value the network replaced.
  void detach();
  /// Before each recorded forward: for weight-delta types, set the targets' values to W + ΔW(θ) (recorded).
  void begin_step();
  /// After backward: restore the frozen values replaced by begin_step.
  void end_step();

  /// The trainable leaves, in a stable order (names parallel: "<module>.<suffix>").
  std::vector<Tensor*> parameters();
  std::vector<std::string> parameter_names();
  size_t num_parameters();  ///< total elements

  /// The adapter in kohya names ("<module>.lora_down.weight", ".alpha", ...), converted to `dtype`, on the
  /// CPU. For `full`, the trained components under diffusers names ("unet.<param>", "text_encoder.<param>").
  std::map<std::string, Tensor> state_dict(DType dtype) const;
  /// Load trainable tensors saved by state_dict (resume). Throws naming the key on a missing / mis-shaped one.
  void load_state_dict(const std::map<std::string, Tensor>& tensors);

  const NetworkConfig& config() const { return cfg_; }
  const std::vector<TrainModule>& modules() const { return modules_; }
  /// "networks.lora" / "lycoris.kohya" (kohya's ss_network_module).
  std::string network_module() const;
  /// ss_network_args JSON ({"conv_dim": ..., "algo": ...}) or "" when none.
  std::string network_args_json() const;

  struct State;

 private:
  sd::Components& comps_;
  NetworkConfig cfg_;
  std::vector<TrainModule> modules_;
  std::unique_ptr<State> state_;
};

}  // namespace ls::train
