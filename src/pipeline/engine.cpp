// lorastack::Engine — txt2img with stacked adapters, on top of the modules:
// loader → components (ParamTables + models) → tokenizer → text encoder (cond/uncond) → sampler with CFG
// → VAE decode → images + A1111 parameters text. Adapters are applied through adapters::AdapterStack.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>

#include "adapters/adapter.h"
#include "adapters/block_weights.h"
#include "adapters/spec.h"
#include "adapters/stack.h"
#include "image/image.h"
#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "models/sd1/components.h"
#include "models/sd1/loader.h"
#include "pipeline/limits.h"
#include "pipeline/parameters.h"
#include "runtime/ops.h"
#include "sampling/rng.h"
#include "runtime/profile.h"
#include "sampling/sampler.h"
#include "text/clip_tokenizer.h"
#include "text/prompt_parser.h"
#include "text/prompt_schedule.h"
#include "text/prompt_weights.h"
#include "text/tokenizer_files.h"
#ifdef LORASTACK_HAS_CUDA
#include "runtime/cuda/backend.h"
#endif

namespace lorastack {

using ls::Tensor;

struct Engine::Impl {
  ModelOptions options;
  ls::sd::LoadedModel model;
  std::unique_ptr<ls::sd::Components> comp;
  std::unique_ptr<ls::text::ClipTokenizer> tokenizer;
  ls::adapters::ModelParams params;
  std::unique_ptr<ls::adapters::KeyMap> keymap;
  std::unique_ptr<ls::adapters::AdapterStack> stack;
  std::vector<LoraSpec> active;
  std::vector<LoraReport> reports;
  /// Parsed adapters by path (and strictness), kept so switching back to a stack does not re-read files.
  ls::adapters::AdapterCache cache;
  // ---- GPU backend (issue 5): where the three components run ----
  ls::Device device = ls::Device::CPU;
  ls::DType compute = ls::DType::F32;
  /// Parse options.device / options.precision, select the GPU, move every ParamTable there.
  void place_components();
  /// A model output as an F32 CPU tensor (the sampler and the image code run on the CPU).
  static Tensor host_f32(const Tensor& t) { return t.to_device(ls::Device::CPU).to(ls::DType::F32); }

  /// Conditioning [1, 77·chunks, D] for one prompt text whose LoRA tags were already removed (the tokenizer
  /// never sees them): A1111 emphasis, BREAK and 75-token chunks (text/prompt_parser.h).
  Tensor encode_text(const std::string& text, int clip_skip) const;
  /// A prompt's conditioning over the denoiser calls (A1111 prompt editing / alternation, issue 6).
  class PromptConds;
};

Engine::Engine(const ModelOptions& options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.options = options;
  if (options.threads > 0) ls::ops::set_num_threads(options.threads);
  m.model = ls::sd::load_model(options.model, options.config_yaml);
  if (!options.prediction_type.empty()) {
    if (options.prediction_type != "epsilon" && options.prediction_type != "v_prediction")
      ls::fail("--prediction '{}': expected epsilon or v_prediction", options.prediction_type);
    m.model.scheduler_config.prediction_type = options.prediction_type;
  }
  std::string tok_dir = options.tokenizer_dir;
  if (tok_dir.empty() && !m.model.tokenizer_dir.empty()) tok_dir = m.model.tokenizer_dir;
  if (options.needs_tokenizer)
    m.tokenizer = std::make_unique<ls::text::ClipTokenizer>(ls::text::find_tokenizer_dir(options.model, tok_dir));
  if (m.tokenizer && m.tokenizer->vocab_size() > m.model.text_config.vocab_size)
    ls::fail("{}: tokenizer in {} has {} tokens but the text encoder's embedding has {} rows", options.model,
             tok_dir.empty() ? "the data directory" : tok_dir, m.tokenizer->vocab_size(), m.model.text_config.vocab_size);
  m.comp = ls::sd::build_components(m.model);
  m.place_components();
  m.params.unet = &m.comp->unet_params;
  m.params.text_encoder = &m.comp->text_params;
  m.params.unet_config = &m.model.unet_config;
  m.keymap = std::make_unique<ls::adapters::KeyMap>(m.params);
  m.stack = std::make_unique<ls::adapters::AdapterStack>(m.params);
}

Engine::~Engine() = default;

// ---- GPU backend (issue 5) ----
void Engine::Impl::place_components() {
  const std::string& d = options.device;
  int index = -1;
  if (d == "cpu" || d.empty()) {
    index = -1;
  } else if (d == "cuda") {
    index = 0;
  } else if (d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.find_first_not_of("0123456789", 5) == std::string::npos &&
             d.size() < 10) {
    index = std::stoi(d.substr(5));
  } else {
    ls::fail("--device '{}': expected cpu, cuda or cuda:N", d);
  }
  const std::string& p = options.precision;
  if (p == "fp32" || p.empty()) compute = ls::DType::F32;
  else if (p == "fp16") compute = ls::DType::F16;
  else if (p == "bf16") compute = ls::DType::BF16;
  else ls::fail("--precision '{}': expected fp32, fp16 or bf16", p);
  if (index < 0) {
    if (compute != ls::DType::F32) ls::fail("--precision {}: the CPU backend computes in fp32 only (use --device cuda)", p);
    return;
  }
#ifdef LORASTACK_HAS_CUDA
  ls::cuda::set_device(index);
  device = ls::Device::CUDA;
  for (ls::ParamTable* t : {&comp->unet_params, &comp->vae_params, &comp->text_params}) t->to_device(device, compute);
#else
  ls::fail("--device {}: this lorastack was built without the CUDA backend (rebuild with nvcc and LORASTACK_CUDA)", d);
#endif
}

std::string Engine::describe() const {
  const auto& m = impl_->model;
  auto count = [](const ls::ParamTable& t) {
    int64_t n = 0;
    for (const auto& [k, p] : t.all()) n += p.base.numel();
    return n;
  };
  return fmt::format("{}: {} ({}), UNet {:.1f}M params (channels {}, context {}), VAE {:.1f}M, text encoder {:.1f}M "
                     "({} layers, width {}), prediction {}",
                     m.source, ls::sd::family_name(m.family),
                     std::filesystem::is_directory(m.source) ? "diffusers folder" : "single file",
                     count(impl_->comp->unet_params) / 1e6, fmt::join(m.unet_config.block_out_channels, "/"),
                     m.unet_config.cross_attention_dim, count(impl_->comp->vae_params) / 1e6,
                     count(impl_->comp->text_params) / 1e6, m.text_config.num_hidden_layers, m.text_config.hidden_size,
                     m.scheduler_config.prediction_type);
}

int Engine::size_multiple() const {
  const int levels = static_cast<int>(impl_->model.unet_config.block_out_channels.size());
  return impl_->model.vae_config.downscale() << (levels - 1);
}

std::vector<LoraReport> Engine::set_loras(const std::vector<LoraSpec>& stack, LoraMode mode, bool strict) {
  auto& m = *impl_;
  limits::check_lora_stack(stack);  // [limits] number of adapters, strengths: pipeline/limits.h (issue 4)
  std::vector<ls::adapters::StackEntry> entries;
  std::vector<LoraReport> reports;
  ls::adapters::LoadOptions lo;
  lo.strict = strict;
  for (const auto& s : stack) {
    auto key = s.path + (strict ? "#strict" : "");
    auto it = m.cache.find(key);
    if (it == m.cache.end()) it = m.cache.emplace(key, ls::adapters::load_adapter(s.path, *m.keymap, lo)).first;
    entries.push_back({it->second, s.unet_strength, s.te_strength, {}});
    if (!s.block_weights.empty())  // A1111 LoRA Block Weight (adapters/block_weights.h)
      entries.back().module_scale =
          ls::adapters::block_scale(ls::adapters::parse_block_weights(s.block_weights), m.model.unet_config);
    const auto& r = it->second->report;
    LoraReport out;
    out.path = s.path;
    out.format = r.format;
    out.family = r.family;
    std::vector<std::string> algos;
    for (const auto& [a, n] : r.algo_counts) algos.push_back(fmt::format("{}×{}", a, n));
    out.algorithms = fmt::format("{}", fmt::join(algos, ", "));
    for (const auto& [c, n] : r.matched_modules) {
      out.matched_modules += n;
      if (c == "unet") out.unet_modules += n;
      else out.te_modules += n;
    }
    out.unused_keys = r.unused_keys;
    out.short_hash = r.short_hash;
    reports.push_back(std::move(out));
  }
  ls::adapters::ApplyMode am = mode == LoraMode::Fuse      ? ls::adapters::ApplyMode::Fuse
                               : mode == LoraMode::Runtime ? ls::adapters::ApplyMode::Runtime
                                                           : ls::adapters::ApplyMode::Auto;
  m.stack->apply(entries, am);  // validates everything before touching the model
  // GPU backend: upload the values the stack recomputed on the CPU (no-op on the CPU or when already placed)
  m.comp->unet_params.sync_device();
  m.comp->text_params.sync_device();
  m.active = stack;
  m.reports = reports;
  return reports;
}

Tensor Engine::Impl::encode_text(const std::string& text, int clip_skip) const {
  LS_PROFILE_PHASE("encode prompt text");
  const auto& tc = model.text_config;
  if (clip_skip < 1 || clip_skip > tc.num_hidden_layers)
    ls::fail("clip skip {} out of range 1..{}", clip_skip, tc.num_hidden_layers);
  // A1111 (issue 6): emphasis → 75-token chunks, each encoded on its own, weighted per token with the mean
  // restored (EmphasisOriginal), concatenated along the tokens: [1, 77·chunks, D] (text/prompt_parser.h)
  const auto spans = ls::text::parse_prompt_attention(text);
  const std::vector<int> comma = tokenizer->encode(",");
  const int chunk_len = tc.max_position_embeddings - 2;
  const auto chunks = ls::text::chunk_prompt(
      spans, [&](const std::string& t) { return tokenizer->encode(t); }, tokenizer->bos_id(), tokenizer->eos_id(),
      comma.size() == 1 ? comma[0] : -1, chunk_len);
  std::vector<Tensor> zs;
  for (const auto& ch : chunks) {
    Tensor ids = Tensor::empty({1, static_cast<int64_t>(ch.tokens.size())}, ls::DType::I64);
    bool after_end = false;
    for (size_t i = 0; i < ch.tokens.size(); ++i) {
      // SD2 (OpenCLIP) pads after the first end token with pad_token_id, as A1111 does
      int id = ch.tokens[i];
      if (after_end && model.family == ls::sd::Family::SD2) id = tc.pad_token_id;
      if (i > 0 && ch.tokens[i] == tokenizer->eos_id()) after_end = true;
      ids.data<int64_t>()[i] = id;
    }
    zs.push_back(ls::text::apply_emphasis(host_f32(comp->text_encoder->encode(ids, clip_skip)), ch.multipliers));
  }
  Tensor out = zs.size() == 1 ? zs[0] : ls::ops::cat(zs, 1);
  if (device != ls::Device::CPU) out = out.to_device(device).to(compute);
  return out;
}

namespace {
Tensor repeat_batch(const Tensor& x, int64_t n) {
  if (n == 1) return x;
  std::vector<Tensor> parts(static_cast<size_t>(n), x);
  return ls::ops::cat(parts, 0);
}

/// A1111 SamplerData.total_steps (modules/sd_samplers_common.py, read as reference): the number of
/// denoiser calls a prompt schedule spans for `steps` sampler steps — 2·steps for the samplers A1111 marks
/// second_order (Heun, DPM2, DPM2 a, DPM++ 2S a in sd_samplers_kdiffusion.py), else steps.
int schedule_steps(const std::string& sampler, int steps) {
  const bool second_order = sampler == "heun" || sampler == "dpm2" || sampler == "dpm2_a" || sampler == "dpm++2s_a";
  return second_order ? 2 * steps : steps;
}

Tensor load_initial_noise(const std::string& path, const ls::Shape& want) {
  auto f = ls::io::read_safetensors(path);
  const Tensor* t = nullptr;
  for (const char* name : {"noise", "initial_noise", "initial_latents", "latents"})
    if (f.has(name)) { t = &f.get(name); break; }
  if (!t && f.tensors.size() == 1) t = &f.tensors.begin()->second;
  if (!t) ls::fail("{}: no tensor named noise / initial_noise / initial_latents / latents", path);
  if (!ls::dtype_is_float(t->dtype())) ls::fail("{}: initial noise has dtype {}", path, ls::dtype_name(t->dtype()));
  if (t->ndim() != 4 || t->dim(1) != want[1] || t->dim(2) != want[2] || t->dim(3) != want[3])
    ls::fail("{}: initial noise has shape {}, expected (B, {}, {}, {}) for this size", path, ls::shape_str(t->shape()),
             want[1], want[2], want[3]);
  return t->to(ls::DType::F32).clone();
}
}  // namespace

// ---- A1111 prompt editing and alternation (issue 6) ----
/// One prompt's conditioning schedule, as A1111's get_learned_conditioning + reconstruct_cond_batch
/// (modules/prompt_parser.py, read as reference): the prompt's LoRA tags are removed first (A1111 strips extra
/// networks before scheduling), its texts are scheduled over `steps` denoiser calls (text/prompt_schedule.h),
/// and call k (0-based, A1111's CFGDenoiser.step) uses the first entry whose end step is ≥ k. Each distinct
/// text is encoded on first use and a few are kept (an alternation can have a text per step); every text is
/// parsed up front so that emphasis errors are thrown before sampling. A prompt without schedule syntax is
/// one entry: its text is the prompt as the encoder saw it before (same conditioning bit for bit).
class Engine::Impl::PromptConds {
 public:
  PromptConds(const Impl& m, const std::string& prompt, int steps, int clip_skip, int64_t batch)
      : m_(m), clip_skip_(clip_skip), batch_(batch) {
    std::string text = prompt;
    extract_lora_tags(text);  // also the prompt-length / tag-count limits (pipeline/limits.h)
    schedule_ = ls::text::prompt_schedule(text, steps);
    for (const auto& t : schedule_.texts) ls::text::parse_prompt_attention(t);
    tensor(index_at(0));
  }
  /// Index of the text in force at denoiser call `step` (0-based).
  size_t index_at(int64_t step) const { return schedule_.text_at(step); }
  /// Conditioning [batch, 77·chunks, D] of text `i` (encoded on first use; the last kKeep are kept).
  Tensor tensor(size_t i) {
    for (const auto& [k, t] : cache_)
      if (k == i) return t;
    if (cache_.size() >= kKeep) cache_.erase(cache_.begin());
    cache_.emplace_back(i, repeat_batch(m_.encode_text(schedule_.texts[i], clip_skip_), batch_));
    return cache_.back().second;
  }

 private:
  static constexpr size_t kKeep = 8;
  const Impl& m_;
  int clip_skip_;
  int64_t batch_;
  ls::text::PromptSchedule schedule_;
  std::vector<std::pair<size_t, Tensor>> cache_;  ///< oldest first
};

GenerateResult Engine::generate(const GenerateRequest& req, const ProgressFn& progress) {
  auto& m = *impl_;
  const auto t0 = std::chrono::steady_clock::now();
  if (!m.tokenizer)
    ls::fail("{}: this engine was opened without a tokenizer (ModelOptions::needs_tokenizer = false)", m.options.model);
  // OpenMP thread counts are per calling thread: apply the engine's on every call (a server's worker thread)
  if (m.options.threads > 0) ls::ops::set_num_threads(m.options.threads);
  const int levels = static_cast<int>(m.model.unet_config.block_out_channels.size());
  const int down = m.model.vae_config.downscale();  // 8 for SD's VAE; the patch size for pixel-space models
  const int multiple = down << (levels - 1);
  // [limits] size, steps, batch, cfg scale and prompt lengths: pipeline/limits.h (issue 4)
  limits::check_request(req, multiple);
  // latents have the VAE's channels; a 9-channel inpainting UNet gets (mask, masked-image latents) on top
  const int64_t lc = m.model.vae_config.latent_channels;
  const int64_t unet_in = m.model.unet_config.in_channels;
  const bool inpaint_unet = unet_in == lc + 1 + lc;
  if (unet_in != lc && !inpaint_unet)
    ls::fail("{}: UNet in_channels {} fits neither latents ({}) nor an inpainting UNet ({})", m.model.source, unet_in,
             lc, 2 * lc + 1);
  ls::Shape shape{req.batch_size, lc, req.height / down, req.width / down};

  // seeds (issue 6): torch CPU / CUDA generators (sampling/rng.h); the same source feeds the ancestral steps
  auto rng = ls::sampling::make_noise_source(req.rng, req.seed);
  Tensor noise = req.initial_noise.empty() ? rng->next(shape) : load_initial_noise(req.initial_noise, shape);
  const int64_t batch = noise.dim(0);
  shape[0] = batch;
  limits::check_batch(batch, int64_t{req.width} * req.height, "initial noise batch");  // [limits]

  // img2img / inpainting inputs (issue 6)
  if (!req.mask.empty() && req.init_image.empty()) ls::fail("--mask {}: needs an init image (--init-img)", req.mask);
  if (!(req.strength >= 0.0f && req.strength <= 1.0f)) ls::fail("--strength {}: expected a value in [0, 1]", req.strength);
  ls::sampling::LatentInputs lat;
  Tensor image_cond;  // [batch, 1 + lc, h, w] for inpainting UNets
  const float sf = m.model.vae_config.scaling_factor;
  auto encode_image = [&](const ls::image::Image& im) {
    Tensor px = ls::image::to_tensor(im);
    if (m.device != ls::Device::CPU) px = px.to_device(m.device).to(m.compute);
    Tensor moments = Impl::host_f32(m.comp->vae->encode_moments(px));
    Tensor mean = moments.narrow0(0, 1).reshape({1, moments.dim(1), moments.dim(2), moments.dim(3)});
    Tensor out = Tensor::empty({1, lc, moments.dim(2), moments.dim(3)});
    const int64_t hw = moments.dim(2) * moments.dim(3);
    for (int64_t i = 0; i < lc * hw; ++i) out.f32()[i] = mean.f32()[i] * sf;  // posterior mean × scaling factor
    return out;
  };
  ls::image::Image init_px;
  if (!req.init_image.empty()) {
    init_px = ls::image::read_image(req.init_image);
    if (init_px.width != req.width || init_px.height != req.height)
      init_px = ls::image::resize(init_px, req.width, req.height);
    lat.init_latents = repeat_batch(encode_image(init_px), batch);
  }
  Tensor mask_lat;  // [1, 1, h, w], 1 = repaint
  if (!req.mask.empty()) {
    ls::image::Image mk = ls::image::read_image(req.mask);
    ls::image::Image small = ls::image::resize(mk, static_cast<int>(shape[3]), static_cast<int>(shape[2]),
                                               ls::image::Filter::Area);
    mask_lat = Tensor::empty({1, 1, shape[2], shape[3]});
    for (int64_t i = 0; i < shape[2] * shape[3]; ++i) {
      const int v = small.rgb[3 * i] + small.rgb[3 * i + 1] + small.rgb[3 * i + 2];
      mask_lat.f32()[i] = static_cast<float>(v) / (3.0f * 255.0f);
    }
    if (!inpaint_unet) lat.mask = mask_lat;
  }
  if (inpaint_unet) {
    // diffusers / A1111: mask ones + masked image (image where the mask is < 0.5, else 0) encoded; txt2img
    // uses an all-grey image (0 in [-1, 1])
    ls::image::Image masked{req.width, req.height, std::vector<uint8_t>(size_t(req.width) * req.height * 3, 128)};
    if (!req.init_image.empty()) {
      masked = init_px;
      if (!req.mask.empty()) {
        ls::image::Image mk = ls::image::read_image(req.mask);
        if (mk.width != req.width || mk.height != req.height) mk = ls::image::resize(mk, req.width, req.height);
        for (size_t p = 0; p < size_t(req.width) * req.height; ++p)
          if (mk.rgb[3 * p] + mk.rgb[3 * p + 1] + mk.rgb[3 * p + 2] >= 3 * 128)
            masked.rgb[3 * p] = masked.rgb[3 * p + 1] = masked.rgb[3 * p + 2] = 128;
      }
    }
    Tensor ml = encode_image(masked);
    Tensor mk = mask_lat.defined() ? mask_lat : Tensor::full({1, 1, shape[2], shape[3]}, 1.0f);
    image_cond = repeat_batch(ls::ops::cat({mk, ml}, 1), batch);
  }

  // prompt editing / alternation (A1111, issue 6): cond and uncond follow the denoiser calls
  const int sched_steps = schedule_steps(req.sampler, req.steps);
  Impl::PromptConds conds(m, req.prompt, sched_steps, req.clip_skip, batch);
  const bool cfg = req.cfg_scale > 1.0f;
  std::optional<Impl::PromptConds> unconds;
  if (cfg) unconds.emplace(m, req.negative_prompt, sched_steps, req.clip_skip, batch);
  Tensor cond, uncond, context;
  bool same_len = true;
  size_t cur_c = SIZE_MAX, cur_u = SIZE_MAX;
  auto select_conds = [&](int64_t step) {  // step = A1111's CFGDenoiser.step: one per denoiser call, from 0
    const size_t ci = conds.index_at(step), ui = cfg ? unconds->index_at(step) : 0;
    if (ci == cur_c && ui == cur_u) return;
    cond = conds.tensor(ci);
    if (cfg) uncond = unconds->tensor(ui);
    // prompts of different chunk counts: cond and uncond run as separate UNet batches (A1111's default)
    same_len = !cfg || uncond.dim(1) == cond.dim(1);
    context = cfg && same_len ? ls::ops::cat({uncond, cond}, 0) : cond;  // diffusers order: [uncond, cond]
    cur_c = ci;
    cur_u = ui;
  };
  select_conds(0);
  int64_t denoiser_calls = 0;

  ls::sampling::SamplerSpec spec;
  spec.sampler = req.sampler;
  spec.scheduler = req.scheduler;
  spec.steps = req.steps;
  spec.eta = req.eta;
  spec.convention = req.sampling_convention;
  spec.zero_terminal_snr = req.zero_terminal_snr;
  spec.denoise = req.init_image.empty() ? 1.0f : req.strength;
  const float scale = req.cfg_scale;
  Tensor img_cond_dev = image_cond;
  if (image_cond.defined() && m.device != ls::Device::CPU) img_cond_dev = image_cond.to_device(m.device).to(m.compute);
  auto unet = [&](const Tensor& x, float timestep, const Tensor& ctx) {
    LS_PROFILE_PHASE("UNet call (copies in/out included)");
    Tensor in = x;
    if (m.device != ls::Device::CPU) in = in.to_device(m.device).to(m.compute);
    if (img_cond_dev.defined()) {
      Tensor ic = in.dim(0) == img_cond_dev.dim(0) ? img_cond_dev : ls::ops::cat({img_cond_dev, img_cond_dev}, 0);
      in = ls::ops::cat({in, ic}, 1);
    }
    Tensor t = Tensor::full({in.dim(0)}, timestep);
    return Impl::host_f32(m.comp->unet->forward(in, t, ctx));  // sampler math stays on the CPU
  };
  auto denoise = [&](const Tensor& x, float timestep) {
    LS_PROFILE_PHASE("denoiser call (UNet + CFG)");
    select_conds(denoiser_calls++);
    if (!cfg) return unet(x, timestep, context);
    Tensor u, c;
    if (same_len) {
      auto halves = ls::ops::chunk(unet(ls::ops::cat({x, x}, 0), timestep, context), 2, 0);
      u = halves[0];
      c = halves[1];
    } else {
      u = unet(x, timestep, uncond);
      c = unet(x, timestep, cond);
    }
    // uncond + s·(cond − uncond), rounded as diffusers does it
    return ls::ops::add(u, ls::ops::scale(ls::ops::sub(c, u), scale));
  };
  auto step_noise = [&](const ls::Shape& s, int) { return rng->next(s); };
  auto on_step = [&](int step, int total, const Tensor&) {
    if (progress) progress(step + 1, total);
  };
  std::optional<ls::profile::Scope> phase(std::in_place, "sampling (denoiser calls included)", nullptr, true);
  Tensor latents =
      ls::sampling::sample(spec, m.model.scheduler_config, noise, denoise, step_noise, on_step, lat);
  phase.reset();
  if (!req.save_latents.empty()) ls::io::write_safetensors(req.save_latents, {{"latents", latents}});

  phase.emplace("VAE decode", nullptr, true);
  Tensor decoded =
      Impl::host_f32(m.comp->vae->decode(ls::ops::scale(latents, 1.0f / m.model.vae_config.scaling_factor)));
  phase.reset();
  GenerateResult result;
  for (auto& im : ls::image::from_tensor(decoded)) result.images.push_back({im.width, im.height, std::move(im.rgb)});

  ParametersInfo info;
  info.model_name = std::filesystem::path(m.model.source).stem().string();
  for (size_t i = 0; i < m.active.size(); ++i)
    info.loras.push_back({std::filesystem::path(m.active[i].path).stem().string(), m.reports[i].short_hash});
  result.parameters = format_parameters(req, batch, info);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

void write_png(const std::string& path, const Image& img, const std::string& parameters) {
  ls::image::Image im{img.width, img.height, img.rgb};
  std::map<std::string, std::string> text;
  if (!parameters.empty()) text["parameters"] = parameters;
  ls::image::write_png(path, im, text);
}

}  // namespace lorastack
