// The training loop behind lorastack::train (include/lorastack/train.h):
// base model → frozen components on the device → dataset (kohya folders, buckets, captions) → cached VAE
// latents → per step: text encoder (recorded when it trains) → noised latents (train/diffusion.h) → UNet →
// weighted MSE → backward → optimizer → periodic checkpoints (adapter + resume state) and sample images.
// kohya sd-scripts train_network.py is the behavioural reference (order of operations, metadata).
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>

#include "io/safetensors.h"
#include "lorastack/lorastack.h"
#include "lorastack/train.h"
#include "models/sd1/components.h"
#include "models/sd1/init.h"
#include "models/sd1/loader.h"
#include "runtime/autograd.h"
#include "runtime/ops.h"
#include "runtime/profile.h"
#include "sampling/schedule.h"
#include "text/clip_tokenizer.h"
#include "text/tokenizer_files.h"
#include "train/data.h"
#include "train/data_cache.h"
#include "train/diffusion.h"
#include "train/metadata.h"
#include "train/network.h"
#include "train/optimizer.h"
#ifdef LORASTACK_HAS_CUDA
#include "runtime/cuda/backend.h"
#endif

namespace fs = std::filesystem;
using ls::Tensor;

namespace lorastack {
namespace {

/// Fail with a clear message when `path` holds an adapter rather than a base model.
void check_base_model(const std::string& path) {
  if (!fs::is_regular_file(path) || fs::path(path).extension() != ".safetensors") return;
  const auto f = ls::io::read_safetensors(path);
  for (const auto& [k, t] : f.tensors)
    if (k.find("lora_down") != std::string::npos || k.find("lora_A") != std::string::npos ||
        k.find("hada_w1") != std::string::npos || k.find("lokr_w") != std::string::npos)
      ls::fail("{}: this is a LoRA-family adapter (key '{}'), not a base model; pass the model it was trained on "
               "with --base", path, k);
}

struct Placement {
  ls::Device device = ls::Device::CPU;
  ls::DType compute = ls::DType::F32;
};

Placement parse_placement(const TrainOptions& o) {
  Placement p;
  if (o.precision == "fp16") p.compute = ls::DType::F16;
  else if (o.precision == "bf16") p.compute = ls::DType::BF16;
  else if (o.precision != "fp32") ls::fail("--precision '{}': expected fp32, fp16 or bf16", o.precision);
  if (o.device == "cpu" || o.device.empty()) {
    if (p.compute != ls::DType::F32) ls::fail("--precision {}: the CPU backend computes in fp32 only", o.precision);
    return p;
  }
  if (o.device.rfind("cuda", 0) != 0) ls::fail("--device '{}': expected cpu, cuda or cuda:N", o.device);
#ifdef LORASTACK_HAS_CUDA
  int index = 0;
  if (o.device.size() > 5 && o.device[4] == ':') index = std::stoi(o.device.substr(5));
  ls::cuda::set_device(index);
  p.device = ls::Device::CUDA;
  return p;
#else
  ls::fail("--device {}: this lorastack was built without the CUDA backend", o.device);
#endif
}

float lr_at(const TrainOptions& o, int step) {  // step is 0-based
  const float base = o.learning_rate;
  if (o.lr_warmup_steps > 0 && step < o.lr_warmup_steps && o.lr_scheduler != "constant")
    return base * static_cast<float>(step + 1) / static_cast<float>(o.lr_warmup_steps);
  const int span = std::max(1, o.steps - o.lr_warmup_steps);
  const double frac = std::clamp(static_cast<double>(step - o.lr_warmup_steps) / span, 0.0, 1.0);
  if (o.lr_scheduler == "constant" || o.lr_scheduler == "constant_with_warmup") return base;
  if (o.lr_scheduler == "linear") return static_cast<float>(base * (1.0 - frac));
  if (o.lr_scheduler == "cosine") return static_cast<float>(base * 0.5 * (1.0 + std::cos(M_PI * frac)));
  ls::fail("--lr-scheduler '{}': expected constant, constant_with_warmup, linear or cosine", o.lr_scheduler);
}

void validate(const TrainOptions& o) {
  if (o.base.empty()) ls::fail("--base: no base model given");
  if (o.data_dir.empty()) ls::fail("--data: no data folder given");
  if (o.output.empty()) ls::fail("-o: no output file given");
  if (o.steps < 1) ls::fail("--steps {}: must be at least 1", o.steps);
  if (!(o.learning_rate > 0.0f) || !std::isfinite(o.learning_rate)) ls::fail("--lr {}: must be positive", o.learning_rate);
  if (o.batch_size < 1 || o.batch_size > 256) ls::fail("--batch-size {}: must be 1..256", o.batch_size);
  if (o.gradient_accumulation < 1) ls::fail("--gradient-accumulation {}: must be ≥ 1", o.gradient_accumulation);
  if (o.resolution < 64 || o.resolution % 8 != 0) ls::fail("--resolution {}: must be a multiple of 8, ≥ 64", o.resolution);
  if (o.caption_dropout < 0 || o.caption_dropout > 1) ls::fail("--caption-dropout {}: must be in [0, 1]", o.caption_dropout);
  if (o.noise_offset < 0 || o.noise_offset > 1) ls::fail("--noise-offset {}: must be in [0, 1]", o.noise_offset);
  if (o.min_snr_gamma < 0) ls::fail("--min-snr-gamma {}: must be ≥ 0", o.min_snr_gamma);
  if (o.save_every < 0 || o.sample_every < 0) ls::fail("--save-every / --sample-every must be ≥ 0");
  if (o.sample_every > 0 && o.sample_prompt.empty()) ls::fail("--sample-every {} needs --sample-prompt", o.sample_every);
  if (o.unet_only && o.text_encoder_only) ls::fail("--unet-only and --text-encoder-only exclude each other");
  if (o.save_precision != "fp16" && o.save_precision != "bf16" && o.save_precision != "fp32")
    ls::fail("--save-precision '{}': expected fp16, bf16 or fp32", o.save_precision);
  (void)lr_at(o, 0);  // validates the scheduler name
}

ls::DType save_dtype(const std::string& s) {
  return s == "fp32" ? ls::DType::F32 : s == "bf16" ? ls::DType::BF16 : ls::DType::F16;
}

std::string state_dir(const TrainOptions& o) { return o.output + ".state"; }

bool is_single_file(const std::string& path) { return fs::path(path).extension() == ".safetensors"; }

}  // namespace

TrainResult train(const TrainOptions& o, const std::function<void(const TrainProgress&)>& progress) {
  validate(o);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (o.threads > 0) ls::ops::set_num_threads(o.threads);
  const Placement place = parse_placement(o);
  TrainResult result;
  result.output = o.output;
  auto report = [&](TrainProgress p) {
    if (progress) progress(p);
  };

  if (const fs::path dir = fs::path(o.output).parent_path(); !dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) ls::fail("-o {}: cannot create the folder {}: {}", o.output, dir.string(), ec.message());
  }
  // ---- data first: a bad folder fails before the model is read ----
  ls::train::DataOptions dopt;
  dopt.caption_extension = o.caption_extension;
  dopt.buckets.resolution = {o.resolution, o.resolution};
  dopt.buckets.enable = o.buckets;
  dopt.buckets.min_reso = o.min_bucket_reso;
  dopt.buckets.max_reso = o.max_bucket_reso;
  dopt.batch_size = o.batch_size;
  dopt.flip_aug = o.flip_aug;
  dopt.captions.shuffle_caption = o.shuffle_caption;
  dopt.captions.keep_tokens = o.keep_tokens;
  dopt.captions.caption_dropout_rate = o.caption_dropout;
  dopt.captions.caption_tag_dropout_rate = o.caption_tag_dropout;
  dopt.seed = o.seed;
  dopt.on_warning = [&](const std::string& w) { report({.event = "warning: " + w}); };
  ls::train::Dataset data = ls::train::Dataset::load(o.data_dir, dopt);
  result.warnings = data.warnings();

  // ---- base model, frozen ----
  check_base_model(o.base);
  ls::sd::LoadedModel model = ls::sd::load_model(o.base);
  if (model.family != ls::sd::Family::SD1 && model.family != ls::sd::Family::SD2)
    ls::fail("{}: training supports SD1.x / SD2.x base models, this is {}", o.base, ls::sd::family_name(model.family));
  auto comps = ls::sd::build_components(model);
  const std::string tokenizer_dir =
      ls::text::find_tokenizer_dir(o.base, o.tokenizer_dir.empty() ? model.tokenizer_dir : o.tokenizer_dir);
  ls::text::ClipTokenizer tokenizer(tokenizer_dir);
  const bool full = o.network == "full";
  // the frozen model computes in `compute`; what trains keeps fp32 masters (train/network.h)
  for (ls::ParamTable* t : {&comps->unet_params, &comps->vae_params, &comps->text_params})
    t->to_device(place.device, place.compute);
  comps->unet->set_gradient_checkpointing(o.gradient_checkpointing);

  ls::train::NetworkConfig ncfg;
  ncfg.type = ls::train::network_type_from_name(o.network);
  ncfg.rank = o.rank;
  ncfg.alpha = o.alpha;
  ncfg.conv_rank = o.conv_rank;
  ncfg.conv_alpha = o.conv_alpha;
  ncfg.train_unet = !o.text_encoder_only;
  ncfg.train_text_encoder = !o.unet_only;
  ncfg.seed = o.seed;
  ls::train::Network net(*comps, ncfg);

  ls::train::OptimizerOptions oopt;
  oopt.name = o.optimizer;
  oopt.weight_decay = o.optimizer == "prodigy" && o.weight_decay == 1e-2f ? 0.0f : o.weight_decay;

  int start_step = 0;
  std::map<std::string, Tensor> resume_opt;
  if (!o.resume.empty()) {
    const auto nf = ls::io::read_safetensors(o.resume + "/network.safetensors");
    net.load_state_dict(nf.tensors);
    auto it = nf.metadata.find("ls_step");
    if (it == nf.metadata.end()) ls::fail("{}/network.safetensors: no ls_step in the metadata", o.resume);
    start_step = std::stoi(it->second);
    if (start_step >= o.steps)
      ls::fail("--resume {}: the state is at step {}, already ≥ --steps {}", o.resume, start_step, o.steps);
    resume_opt = ls::io::read_safetensors(o.resume + "/optimizer.safetensors").tensors;
  }
  net.attach(place.device);
  auto opt = ls::train::make_optimizer(oopt, net.parameters(), net.parameter_names());
  if (!o.resume.empty()) opt->load_state(resume_opt);

  const auto schedule = ls::sampling::training_schedule(model.scheduler_config);
  ls::train::NoiseOptions nopt;
  nopt.v_prediction = model.scheduler_config.prediction_type == "v_prediction";
  nopt.noise_offset = o.noise_offset;
  nopt.min_snr_gamma = o.min_snr_gamma;
  ls::train::LatentCache cache;
  const auto& tc = model.text_config;
  const int pad = model.family == ls::sd::Family::SD2 ? tc.pad_token_id : tokenizer.eos_id();
  const float vae_scale = model.vae_config.scaling_factor;
  const bool te_trains = ncfg.train_text_encoder;

  ls::train::MetadataInputs meta_in{o, model, data, net, *opt, o.output};
  auto save_adapter = [&](const std::string& path, int steps_done) {
    auto meta = ls::train::training_metadata(meta_in, steps_done, elapsed());
    if (!full) {
      ls::io::write_safetensors(path, net.state_dict(save_dtype(o.save_precision)), meta);
      return;
    }
    // a full fine-tune is a model: the fp32 masters of what trained, the base weights of the rest
    ls::sd::InitWeights w;
    for (auto [table, dst] : {std::pair{&comps->unet_params, &w.unet}, std::pair{&comps->vae_params, &w.vae},
                              std::pair{&comps->text_params, &w.text}})
      for (auto& [name, p] : table->all()) (*dst)[name] = p.base;
    for (auto& [key, t] : net.state_dict(ls::DType::F32)) {
      if (key.rfind("unet.", 0) == 0) w.unet[key.substr(5)] = t;
      else if (key.rfind("text_encoder.", 0) == 0) w.text[key.substr(13)] = t;
    }
    const ls::sd::ModelConfigs cfgs{model.unet_config, model.vae_config, model.text_config, model.scheduler_config};
    ls::sd::write_model(cfgs, w, path, save_dtype(o.save_precision), meta);
    if (!is_single_file(path)) {  // a diffusers folder carries its tokenizer (write_model writes none)
      std::error_code ec;
      fs::create_directories(fs::path(path) / "tokenizer", ec);
      for (const auto& e : fs::directory_iterator(tokenizer_dir))
        if (e.is_regular_file())
          fs::copy_file(e.path(), fs::path(path) / "tokenizer" / e.path().filename(), fs::copy_options::overwrite_existing);
    }
  };
  auto save_state = [&](int steps_done) {
    fs::create_directories(state_dir(o));
    ls::io::write_safetensors(state_dir(o) + "/network.safetensors", net.state_dict(ls::DType::F32),
                              {{"ls_step", std::to_string(steps_done)}});
    ls::io::write_safetensors(state_dir(o) + "/optimizer.safetensors", opt->state(), {});
  };

  const size_t per_epoch = data.batches_per_epoch();
  std::vector<float> window;
  int64_t micro = static_cast<int64_t>(start_step) * o.gradient_accumulation;
  for (int step = start_step; step < o.steps; ++step) {
    float step_loss = 0.0f;
    int epoch = 0;
    for (int a = 0; a < o.gradient_accumulation; ++a, ++micro) {
      epoch = static_cast<int>(micro / static_cast<int64_t>(per_epoch));
      const ls::train::Batch batch = data.batch(epoch, static_cast<size_t>(micro % static_cast<int64_t>(per_epoch)));
      LS_PROFILE_PHASE("train step (micro-batch)");
      // latents (cached per item; the posterior mean, deterministic)
      std::vector<Tensor> lat;
      std::optional<ls::profile::Scope> phase(std::in_place, "latents (cache or VAE encode)", nullptr, true);
      for (const auto& item : batch.items) {
        if (auto hit = cache.get(item.cache_key)) {
          lat.push_back(*hit);
          continue;
        }
        ls::train::Batch one = batch;
        one.items = {item};
        ls::autograd::NoGrad ng;
        const Tensor px = data.load_pixels(one).to_device(place.device).to(place.compute);
        // the posterior mean (first half of the moments), on any device / dtype
        const Tensor mean = ls::ops::chunk(comps->vae->encode_moments(px), 2, 1)[0];
        Tensor z = ls::ops::scale(mean, vae_scale).to_device(ls::Device::CPU).to(ls::DType::F32);
        cache.put(item.cache_key, z);
        lat.push_back(z);
      }
      const Tensor x0 = lat.size() == 1 ? lat[0] : ls::ops::cat(lat, 0);
      phase.emplace("tokenize", nullptr, true);
      Tensor ids = Tensor::empty({static_cast<int64_t>(batch.items.size()), tc.max_position_embeddings}, ls::DType::I64);
      for (size_t i = 0; i < batch.items.size(); ++i) {
        auto v = tokenizer.encode_padded(batch.items[i].caption, tc.max_position_embeddings, pad);
        std::copy(v.begin(), v.end(), ids.data<int64_t>() + i * tc.max_position_embeddings);
      }
      phase.emplace("noise (host)", nullptr, true);
      const ls::train::NoisedBatch nb = ls::train::noise_batch(x0, schedule, nopt, o.seed, micro);
      phase.emplace("text encoder forward", nullptr, true);

      ls::autograd::Tape tape;
      net.begin_step();
      Tensor ctx;
      if (te_trains) {
        ctx = comps->text_encoder->encode(ids, o.clip_skip);
      } else {
        ls::autograd::NoGrad ng;
        ctx = comps->text_encoder->encode(ids, o.clip_skip);
      }
      phase.emplace("UNet forward", nullptr, true);
      const Tensor noisy = nb.noisy.to_device(place.device).to(place.compute);
      const Tensor pred = comps->unet->forward(noisy, nb.timesteps, ctx);
      phase.emplace("loss", nullptr, true);
      Tensor loss = ls::train::diffusion_loss(pred, nb);
      if (o.gradient_accumulation > 1) loss = ls::ops::scale(loss, 1.0f / static_cast<float>(o.gradient_accumulation));
      const float lv = loss.to_device(ls::Device::CPU).to(ls::DType::F32).f32()[0];
      if (!std::isfinite(lv))
        ls::fail("step {}: the loss is {} (learning rate {} too high, or fp16 overflow: try --precision bf16)", step + 1,
                 lv, lr_at(o, step));
      phase.emplace("backward", nullptr, true);
      ls::autograd::backward(loss);
      net.end_step();
      phase.reset();
      step_loss += lv;
    }
    const float lr = lr_at(o, step);
    {
      LS_PROFILE_PHASE("optimizer step");
      opt->step(lr);
    }
    result.losses.push_back(step_loss);
    window.push_back(step_loss);
    if (window.size() > 100) window.erase(window.begin());
    TrainProgress p{step + 1, o.steps, epoch, step_loss,
                    std::accumulate(window.begin(), window.end(), 0.0f) / static_cast<float>(window.size()), lr,
                    elapsed(), ""};
    if (o.save_every > 0 && (step + 1) % o.save_every == 0 && step + 1 < o.steps) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "-step%06d", step + 1);
      const fs::path out(o.output);
      const std::string path = (out.parent_path() / (out.stem().string() + buf + out.extension().string())).string();
      save_adapter(path, step + 1);
      save_state(step + 1);
      p.event = "saved " + path;
    }
    if (o.sample_every > 0 && (step + 1) % o.sample_every == 0) {
      // the current state through the inference engine: the adapter on the base, or the fine-tuned model itself
      const std::string tmp = o.output + (full && !is_single_file(o.output) ? ".sample" : ".sample.safetensors");
      save_adapter(tmp, step + 1);
      ModelOptions mo;
      mo.model = full ? tmp : o.base;
      mo.tokenizer_dir = tokenizer_dir;
      mo.device = o.device;
      mo.precision = o.precision;
      mo.threads = o.threads;
      Engine engine(mo);
      if (!full) engine.set_loras({{tmp, 1.0f, 1.0f}});
      GenerateRequest req;
      req.prompt = o.sample_prompt;
      req.steps = o.sample_steps;
      req.seed = o.seed;
      req.width = req.height = o.resolution;
      auto r = engine.generate(req);
      char buf[32];
      std::snprintf(buf, sizeof buf, "-sample%06d.png", step + 1);
      const std::string png = o.output.substr(0, o.output.size() - fs::path(o.output).extension().string().size()) + buf;
      write_png(png, r.images[0], r.parameters);
      fs::remove_all(tmp);
      p.event += (p.event.empty() ? "" : "; ") + std::string("sample ") + png;
    }
    report(p);
  }
  save_adapter(o.output, o.steps);
  if (o.save_every > 0) save_state(o.steps);
  result.steps = o.steps;
  result.seconds = elapsed();
  return result;
}

}  // namespace lorastack
