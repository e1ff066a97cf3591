// lorastack public C++ API, training: a LoRA-family adapter (or a full fine-tune) from a kohya-style folder of
// images and captions, saved with kohya names and metadata so A1111, ComfyUI and diffusers load it.
//
//   lorastack::TrainOptions o;
//   o.base = "model.safetensors"; o.data_dir = "data/"; o.output = "style.safetensors";
//   o.network = "lora"; o.rank = 16; o.alpha = 8; o.steps = 1000; o.learning_rate = 1e-4f;
//   lorastack::train(o, [](const lorastack::TrainProgress& p) { /* p.step, p.loss */ });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lorastack {

/// Everything `lorastack train` takes (kohya sd-scripts argument names in the comments).
struct TrainOptions {
  std::string base;              ///< base model file or diffusers folder (--pretrained_model_name_or_path)
  std::string data_dir;          ///< kohya-style image folder (--train_data_dir)
  std::string output;            ///< output .safetensors (--output_dir / --output_name)
  std::string tokenizer_dir;     ///< optional; searched like the Engine does otherwise
  // ---- network ----
  std::string network = "lora";  ///< lora | locon | loha | lokr | dora | full
  int rank = 16;                 ///< --network_dim
  float alpha = 8.0f;            ///< --network_alpha
  int conv_rank = 0;             ///< conv_dim (0 = rank) for locon / loha / lokr
  float conv_alpha = 0.0f;       ///< conv_alpha (0 = alpha)
  bool unet_only = false;        ///< --network_train_unet_only
  bool text_encoder_only = false;///< --network_train_text_encoder_only
  // ---- optimisation ----
  int steps = 1000;              ///< --max_train_steps
  float learning_rate = 1e-4f;   ///< --learning_rate (prodigy: a multiplier, use 1.0)
  std::string optimizer = "adamw";  ///< adamw | adamw8bit | prodigy
  float weight_decay = 1e-2f;
  std::string lr_scheduler = "constant";  ///< constant | constant_with_warmup | linear | cosine
  int lr_warmup_steps = 0;
  int batch_size = 1;            ///< --train_batch_size
  int gradient_accumulation = 1; ///< --gradient_accumulation_steps
  bool gradient_checkpointing = false;
  // ---- data ----
  int resolution = 512;          ///< --resolution (square)
  bool buckets = false;          ///< --enable_bucket
  int min_bucket_reso = 256;
  int max_bucket_reso = 1024;
  std::string caption_extension = ".txt";
  float caption_dropout = 0.0f;  ///< --caption_dropout_rate
  float caption_tag_dropout = 0.0f;
  bool shuffle_caption = false;
  int keep_tokens = 0;
  bool flip_aug = false;
  // ---- diffusion loss ----
  float noise_offset = 0.0f;     ///< --noise_offset
  float min_snr_gamma = 0.0f;    ///< --min_snr_gamma
  int clip_skip = 1;
  uint64_t seed = 0;             ///< --seed: init, data order, noise and timesteps (a resumed run continues them)
  // ---- checkpoints and samples ----
  int save_every = 0;            ///< --save_every_n_steps: also writes the resume state
  std::string save_precision = "fp16";  ///< fp16 | bf16 | fp32 (the adapter file)
  int sample_every = 0;          ///< --sample_every_n_steps (needs sample_prompt)
  std::string sample_prompt;
  int sample_steps = 20;
  std::string resume;            ///< resume-state folder written by save_every ("<output>.state")
  std::string comment;           ///< ss_training_comment
  // ---- device ----
  std::string device = "cpu";    ///< cpu | cuda | cuda:N
  std::string precision = "fp32";///< fp32 | fp16 | bf16 compute for the frozen model (masters stay fp32)
  int threads = 0;
};

/// One training step's report.
struct TrainProgress {
  int step = 0;          ///< 1-based
  int total = 0;
  int epoch = 0;
  float loss = 0;        ///< this step's loss
  float avg_loss = 0;    ///< moving average (last 100 steps)
  float lr = 0;
  double seconds = 0;    ///< since start
  std::string event;     ///< "" or "saved <path>" / "sample <path>" / warnings
};

struct TrainResult {
  std::string output;
  int steps = 0;
  std::vector<float> losses;  ///< per step
  double seconds = 0;
  std::vector<std::string> warnings;  ///< data warnings (one per skipped / uncaptioned file)
};

/// Train and save. Throws std::runtime_error (ls::Error) naming the file / option and value when an input is
/// unusable: a base that is not a loadable SD1.x / SD2.x base model (e.g. a LoRA file), a data folder with no
/// usable image, an option out of range, or a resume state that does not fit this network.
TrainResult train(const TrainOptions& options, const std::function<void(const TrainProgress&)>& progress = {});

}  // namespace lorastack
