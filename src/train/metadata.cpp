// ss_* and modelspec.* metadata of a trained adapter (train/metadata.h).
#include "train/metadata.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace ls::train {
namespace {

std::string py_bool(bool b) { return b ? "True" : "False"; }

std::string py_float(double v) {  // Python str(float): shortest round-trip, always with a dot or exponent
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  return buf;
}

}  // namespace

std::map<std::string, std::string> training_metadata(const MetadataInputs& in, int steps, double seconds) {
  const lorastack::TrainOptions& o = in.options;
  const bool v2 = in.model.family == sd::Family::SD2;
  const bool vpred = in.model.scheduler_config.prediction_type == "v_prediction";
  const bool full = in.network.config().type == NetworkType::Full;
  std::map<std::string, std::string> m = in.data.kohya_metadata();
  const auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t per_epoch = static_cast<int64_t>(in.data.batches_per_epoch());
  m["ss_output_name"] = std::filesystem::path(in.output).stem().string();
  m["ss_training_started_at"] = py_float(now - seconds);
  m["ss_training_finished_at"] = py_float(now);
  m["ss_learning_rate"] = py_float(o.learning_rate);
  m["ss_unet_lr"] = py_float(o.learning_rate);
  m["ss_text_encoder_lr"] = py_float(o.learning_rate);
  m["ss_max_train_steps"] = std::to_string(o.steps);
  m["ss_steps"] = std::to_string(steps);
  m["ss_epoch"] = std::to_string(per_epoch > 0 ? (static_cast<int64_t>(steps) * o.gradient_accumulation) / per_epoch : 0);
  m["ss_num_epochs"] = std::to_string(per_epoch > 0 ? (static_cast<int64_t>(o.steps) * o.gradient_accumulation + per_epoch - 1) / per_epoch : 0);
  m["ss_gradient_checkpointing"] = py_bool(o.gradient_checkpointing);
  m["ss_gradient_accumulation_steps"] = std::to_string(o.gradient_accumulation);
  m["ss_lr_warmup_steps"] = std::to_string(o.lr_warmup_steps);
  m["ss_lr_scheduler"] = o.lr_scheduler;
  m["ss_optimizer"] = o.optimizer == "adamw" ? "torch.optim.adamw.AdamW"
                      : o.optimizer == "adamw8bit" ? "lorastack.AdamW8bit" : "prodigyopt.prodigy.Prodigy";
  m["ss_mixed_precision"] = o.precision == "fp32" ? "no" : o.precision;
  m["ss_full_fp16"] = "False";
  m["ss_v2"] = py_bool(v2);
  m["ss_base_model_version"] = v2 ? (vpred ? "sd_v2_768_v" : "sd_v2_512") : "sd_v1";
  m["ss_clip_skip"] = std::to_string(o.clip_skip);
  m["ss_max_token_length"] = "None";
  m["ss_cache_latents"] = "True";
  m["ss_seed"] = std::to_string(o.seed);
  m["ss_noise_offset"] = o.noise_offset > 0 ? py_float(o.noise_offset) : "None";
  m["ss_min_snr_gamma"] = o.min_snr_gamma > 0 ? py_float(o.min_snr_gamma) : "None";
  m["ss_prior_loss_weight"] = "1.0";
  m["ss_training_comment"] = o.comment.empty() ? "None" : o.comment;
  m["ss_sd_model_name"] = std::filesystem::path(o.base).filename().string();
  m["ss_network_module"] = in.network.network_module();
  if (!full) {
    m["ss_network_dim"] = std::to_string(o.rank);
    m["ss_network_alpha"] = py_float(o.alpha);
    m["ss_network_dropout"] = "None";
    const std::string args = in.network.network_args_json();
    if (!args.empty()) m["ss_network_args"] = args;
  }
  // Stability ModelSpec 1.0.0 (sai_model_spec.py in kohya sd-scripts)
  m["modelspec.sai_model_spec"] = "1.0.0";
  m["modelspec.architecture"] = std::string(v2 ? (vpred ? "stable-diffusion-v2-768-v" : "stable-diffusion-v2-512")
                                               : "stable-diffusion-v1") + (full ? "" : "/lora");
  m["modelspec.implementation"] = "diffusers";
  m["modelspec.title"] = m["ss_output_name"] + "-step" + std::to_string(steps);
  m["modelspec.date"] = iso_now();
  m["modelspec.resolution"] = std::to_string(o.resolution) + "x" + std::to_string(o.resolution);
  m["modelspec.prediction_type"] = vpred ? "v" : "epsilon";
  if (!o.comment.empty()) m["modelspec.description"] = o.comment;
  m["ls_trained_by"] = "lorastack";
  m["ls_network"] = network_type_name(in.network.config().type);
  (void)in.optimizer;
  return m;
}

}  // namespace ls::train
