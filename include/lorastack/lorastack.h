// lorastack public C++ API: load a Stable Diffusion model once, stack LoRA-family adapters on it, and
// generate images. Front ends (the `lorastack` command, the server) use only this header.
//
//   lorastack::Engine engine({.model = "model.safetensors"});
//   engine.set_loras({{"style.safetensors", 0.8f}});
//   auto result = engine.generate({.prompt = "a photo of a cat", .steps = 20, .seed = 42});
//   lorastack::write_png("cat.png", result.images[0], result.parameters);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lorastack {

/// How a model is opened.
struct ModelOptions {
  std::string model;          ///< single file (.safetensors/.ckpt/.pt/.pth) or diffusers folder
  std::string config_yaml;    ///< optional LDM yaml (else a sidecar FILE.yaml, else inferred)
  std::string tokenizer_dir;  ///< optional folder with vocab.json + merges.txt (else searched)
  std::string prediction_type;  ///< "" (from the model's config), "epsilon" or "v_prediction"
  int threads = 0;            ///< CPU threads; 0 = all hardware threads (or LORASTACK_THREADS)
  // ---- GPU backend (issue 5) ----
  std::string device = "cpu";     ///< "cpu", "cuda" or "cuda:N" (needs a build with the CUDA backend)
  std::string precision = "fp32"; ///< compute precision on CUDA: "fp32", "fp16" or "bf16" (CPU: fp32 only)
  /// false: do not look for a tokenizer (`model info`); generate() then throws naming the missing tokenizer.
  bool needs_tokenizer = true;
};

/// One adapter in a stack. `path` is a file path or a name resolved in `lora_dir` (file stem, subfolders too).
struct LoraSpec {
  std::string path;
  float unet_strength = 1.0f;  ///< A1111 `unet`, ComfyUI strength_model
  float te_strength = 1.0f;    ///< A1111 `te`, ComfyUI strength_clip
  /// A1111 LoRA Block Weight: a preset (NONE, ALL, INS, IND, INALL, MIDD, OUTD, OUTS, OUTALL, ALL0.5, or one block
  /// id such as OUT03) or 17 / 26 comma-separated ratios multiplying the strength per UNet block (BASE = text
  /// encoder); "" = none. See src/adapters/block_weights.h.
  std::string block_weights = {};
};

/// How a stack is applied: fuse into the weights, run as a side path, or choose per adapter type.
enum class LoraMode { Auto, Fuse, Runtime };

/// What a stack change did, one entry per adapter (matched / unused keys, format, family).
struct LoraReport {
  std::string path;
  std::string format;     ///< "kohya", "diffusers", "peft", "lycoris"
  std::string algorithms; ///< e.g. "lora×140", "loha×150, lora×12"
  std::string family;     ///< base family the keys fit ("SD1.x", ...)
  int matched_modules = 0;
  int unet_modules = 0;
  int te_modules = 0;
  std::vector<std::string> unused_keys;
  std::string short_hash;  ///< A1111 short hash (sha256 of the data after the header, 12 hex)
};

/// One txt2img request. Sizes in pixels (multiples of 8); strengths and scales are unitless.
struct GenerateRequest {
  std::string prompt;
  std::string negative_prompt;
  int steps = 20;
  float cfg_scale = 7.5f;
  /// euler, euler_a, heun, dpm2, dpm2_a, dpm++2s_a, dpm++2m, dpm++2m_sde, dpm++3m_sde, lms, ddim, lcm,
  /// uni_pc (B(h) = bh2), uni_pc_bh1 (src/sampling/k_samplers.h)
  std::string sampler = "euler";
  /// normal, karras, exponential, sgm_uniform, simple, ddim_uniform, beta; diffusers spacings linspace,
  /// leading, trailing (src/sampling/sigma_schedules.h)
  std::string scheduler = "normal";
  uint64_t seed = 0;
  int width = 512;
  int height = 512;
  int batch_size = 1;
  int clip_skip = 1;  ///< 1 = last layer; 2 = penultimate (A1111 "Clip skip: 2")
  /// Optional safetensors file with tensor of shape (B, 4, H/8, W/8) used as the starting noise
  /// (unit variance; the sampler scales it by its initial sigma).
  std::string initial_noise;
  /// Optional path: write the final latents (before VAE decode) there as tensor `latents`.
  std::string save_latents;
  // ---- samplers, seeds, prompts, img2img (issue 6) ----
  /// Noise generator: "cpu" (torch CPU generator as on AVX2 CPUs; ComfyUI's initial noise), "cpu-scalar"
  /// (torch CPU generator on CPUs without AVX2), "cuda" (torch CUDA Philox, A1111's default; image b of a
  /// batch uses seed + b). Also used for the per-step noise of ancestral / SDE samplers.
  std::string rng = "cpu";
  /// "a1111" (x_T = σ₀·noise, fractional model timesteps), "comfyui" (√(1+σ₀²)·noise at full denoise,
  /// integer timesteps) or "diffusers" (diffusers' scheduler classes for euler/euler_a/dpm++2m/ddim).
  std::string sampling_convention = "a1111";
  float eta = 0.0f;              ///< DDIM η (0 = deterministic)
  bool zero_terminal_snr = false;  ///< rescale the noise table to zero terminal SNR (v-prediction models)
  /// img2img: initial image (PNG/JPEG/WebP; resized to width×height when it differs); "" = txt2img.
  std::string init_image;
  /// img2img strength (A1111 denoising strength) in [0, 1]; 0 returns the init image's latents.
  float strength = 0.75f;
  /// Inpainting mask image (white = repaint, black = keep; resized to the latent size); needs init_image.
  /// 9-channel inpainting UNets get (mask, masked-image latents) as extra input; ordinary models blend latents.
  std::string mask;
};

/// An 8-bit RGB image, row-major.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  ///< width·height·3 bytes
};

struct GenerateResult {
  std::vector<Image> images;
  std::string parameters;  ///< A1111-style "parameters" text (prompt, Negative prompt, Steps, Sampler, ...)
  double seconds = 0;
};

/// Progress callback: step (1-based), total steps.
using ProgressFn = std::function<void(int step, int total)>;

class Engine {
 public:
  /// Load the model (once). Throws std::runtime_error (ls::Error) naming the file and what is wrong.
  explicit Engine(const ModelOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Family and sizes of the loaded model, one line ("SD1.x, UNet 859.5M params, ...").
  std::string describe() const;

  /// Width and height of a request must be positive multiples of this: 8 · 2^(UNet levels − 1) pixels
  /// (64 for SD1.x / SD2.x). Front ends use it to refuse a size before queueing the job.
  int size_multiple() const;

  /// Replace the adapter stack (empty = base model). The base model is never re-read; fused weights are
  /// recomputed from the untouched base. All files are validated before anything changes. `strict`:
  /// unused keys are errors. Throws on zero matched keys, misfit shapes, NaNs.
  std::vector<LoraReport> set_loras(const std::vector<LoraSpec>& stack, LoraMode mode = LoraMode::Auto,
                                    bool strict = false);

  /// Run txt2img. A1111 `<lora:name:w>` tags in the prompt are not parsed here (front ends do it).
  GenerateResult generate(const GenerateRequest& request, const ProgressFn& progress = {});

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Write `img` as PNG with an A1111-compatible "parameters" text chunk (omitted when empty).
void write_png(const std::string& path, const Image& img, const std::string& parameters = "");

/// `lorastack model init`: write a random-weight model with the real layout. arch: "sd1", "sd2", "tiny",
/// "emoji" (pixel space, 64×64: models/sd1/init.h). `out` ending in .safetensors → LDM single file (F16);
/// otherwise a diffusers folder with a tokenizer: a byte-level one, or the CLIP BPE files of `tokenizer_dir`
/// (vocab.json + merges.txt), copied into out/tokenizer/, to whose size the text embedding is made. Throws
/// ls::Error naming the path on write failures or bad tokenizer files.
void init_model(const std::string& arch, const std::string& config_yaml, uint64_t seed, const std::string& out,
                const std::string& tokenizer_dir = "");

}  // namespace lorastack

namespace lorastack {

/// Remove A1111 LoRA tags from `prompt` and return them in order (names unresolved, in `path`):
/// `<lora:name:w>` (te = unet = w), `<lora:name:te:unet>`, `<lora:name>` (1.0), named `te=`/`unet=`,
/// `<lyco:…>` alike. Unparsable weights throw naming the tag. Spaces left behind are collapsed, ends trimmed.
/// Prompts over 64 KiB and more than 64 tags throw (resource limits, src/pipeline/limits.h).
std::vector<LoraSpec> extract_lora_tags(std::string& prompt);

/// Resolve `name` to an adapter file: an existing path as is; else, in `lora_dir` and its subfolders, a
/// file whose stem (or relative path without extension) equals `name` (.safetensors, .ckpt, .pt, .pth).
/// Throws naming the name and the folder when none or several match.
std::string resolve_lora(const std::string& name, const std::string& lora_dir);

/// Parse a `--lora PATH_OR_NAME[:STRENGTH[:TE_STRENGTH]][:lbw=BLOCK_WEIGHTS]` argument (TE_STRENGTH defaults to
/// STRENGTH; only trailing numeric fields are strengths, so paths with ':' survive) and resolve the name in `lora_dir`.
/// Throws naming the argument on an empty name, a non-finite strength, or a name that resolves to nothing.
LoraSpec parse_lora_arg(const std::string& arg, const std::string& lora_dir);

}  // namespace lorastack
