// `lorastack generate`: text to image with a stacked adapter set (include/lorastack/lorastack.h) — batches
// (--batch-count × --batch-size, seeds seed+i as A1111), output name patterns (toolbox/name_pattern.h), PNG /
// JPEG / WebP with A1111 `parameters` metadata (image/image.h write_image), a progress bar (progress.h) and
// --xy comparison grids (generate_xy.cpp).
#include "generate.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <unistd.h>

#include "image/image.h"
#include "image/text.h"
#include "pipeline/parameters.h"
#include "progress.h"
#include "runtime/error.h"
#include "toolbox/name_pattern.h"
#include "toolbox_commands.h"

namespace {

std::string stem_of(const std::string& path) {
  std::filesystem::path p(path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "folder/" → "folder"
  return p.stem().string();
}

std::string strip_tags(std::string prompt) {
  lorastack::extract_lora_tags(prompt);
  return prompt;
}

}  // namespace

GenerateSession::GenerateSession(GenerateArgs& args)
    : a(args), pattern(args.out), started(std::time(nullptr)) {
  ls::toolbox::image_format_of(args.out);  // the pattern's own extension decides the format
}

std::vector<lorastack::LoraSpec> GenerateSession::initial_stack() const {
  std::vector<lorastack::LoraSpec> stack;
  for (const auto& l : a.loras) stack.push_back(lorastack::parse_lora_arg(l, a.lora_dir));
  std::string tag_free = a.req.prompt;  // the prompt keeps its tags (A1111 saves them); the engine skips them
  for (auto& t : lorastack::extract_lora_tags(tag_free)) {
    t.path = lorastack::resolve_lora(t.path, a.lora_dir);
    stack.push_back(t);
  }
  return stack;
}

std::string GenerateSession::tagged_prompt(const std::string& prompt,
                                          const std::vector<lorastack::LoraSpec>& stack) const {
  std::string tag_free = prompt;
  std::multiset<std::string> named;  // adapters the prompt's own tags name (resolved as initial_stack does)
  for (const auto& t : lorastack::extract_lora_tags(tag_free)) {
    auto it = resolved.find(t.path);
    if (it == resolved.end()) it = resolved.emplace(t.path, lorastack::resolve_lora(t.path, a.lora_dir)).first;
    named.insert(it->second);
  }
  std::string out = prompt;
  for (const auto& s : stack) {
    if (auto it = named.find(s.path); it != named.end()) {
      named.erase(it);
      continue;
    }
    const std::string tag =
        lorastack::a1111_lora_tag(stem_of(s.path), s.unet_strength, s.te_strength, s.block_weights);
    if (!tag.empty()) out += (out.empty() ? "" : " ") + tag;
  }
  return out;
}

void GenerateSession::start_model_hash() {
  hash_job = std::async(std::launch::async, [path = a.model.model] {
    try {
      return lorastack::a1111_model_hash(path);
    } catch (const std::exception&) {
      return std::string();  // an unreadable file is the model loader's error to report
    }
  });
}

std::string GenerateSession::model_hash() {
  if (!hash_done && hash_job.valid()) hash = hash_job.get();
  hash_done = true;
  return hash;
}

void GenerateSession::apply_stack(lorastack::Engine& engine, const std::vector<lorastack::LoraSpec>& stack, bool report) {
  lorastack::LoraMode mode = a.lora_mode == "fuse"      ? lorastack::LoraMode::Fuse
                             : a.lora_mode == "runtime" ? lorastack::LoraMode::Runtime
                                                        : lorastack::LoraMode::Auto;
  auto reports = engine.set_loras(stack, mode, a.lora_strict);
  if (!report) return;
  for (const auto& r : reports) {
    std::cerr << "lora " << r.path << ": " << r.format << ", " << r.algorithms << ", " << r.matched_modules
              << " modules matched (unet " << r.unet_modules << ", te " << r.te_modules << "), "
              << r.unused_keys.size() << " unused keys";
    for (size_t i = 0; i < r.unused_keys.size() && i < 5; ++i) std::cerr << (i ? ", " : ": ") << r.unused_keys[i];
    std::cerr << "\n";
  }
}

std::map<std::string, std::string> GenerateSession::name_values(const lorastack::GenerateRequest& req,
                                                                const std::vector<lorastack::LoraSpec>& stack,
                                                                uint64_t seed, int64_t n, int64_t batch,
                                                                int64_t pos) const {
  std::tm tm{};
  localtime_r(&started, &tm);
  char date[16], time[16], datetime[24];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  std::strftime(time, sizeof time, "%H-%M-%S", &tm);
  std::strftime(datetime, sizeof datetime, "%Y%m%d%H%M%S", &tm);
  std::string loras;
  for (const auto& s : stack) loras += (loras.empty() ? "" : "+") + stem_of(s.path);
  return {{"seed", std::to_string(seed)},
          {"n", std::to_string(n)},
          {"batch", std::to_string(batch)},
          {"pos", std::to_string(pos)},
          {"prompt", strip_tags(req.prompt)},
          {"negative", req.negative_prompt},
          {"steps", std::to_string(req.steps)},
          {"cfg", fmt::format("{:g}", req.cfg_scale)},
          {"sampler", req.sampler},
          {"scheduler", req.scheduler},
          {"width", std::to_string(req.width)},
          {"height", std::to_string(req.height)},
          {"model", stem_of(a.model.model)},
          {"lora", loras},
          {"date", date},
          {"time", time},
          {"datetime", datetime}};
}

std::string GenerateSession::output_path(const std::map<std::string, std::string>& values, int64_t n, int64_t total) {
  std::string path = pattern.render(values);
  if (!pattern.per_image() && total > 1) path = ls::toolbox::with_index_suffix(path, n);
  std::string file = std::filesystem::path(path).filename().string();
  std::string bare = file.substr(0, file.rfind('.') == std::string::npos ? file.size() : file.rfind('.'));
  if (bare.empty())
    ls::fail("-o '{}': the name is empty for image {} (every field in it is empty); add fixed text or {{n}}",
             pattern.pattern(), n);
  if (!written.insert(path).second) path = ls::toolbox::with_index_suffix(path, n);  // two images, one name
  return path;
}

void GenerateSession::save(const std::string& path, const lorastack::Image& img, const std::string& parameters) const {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) ls::fail("{}: cannot create the folder {}: {}", path, parent.string(), ec.message());
  }
  ls::image::Image im{img.width, img.height, img.rgb};
  std::map<std::string, std::string> text;
  if (!parameters.empty()) text["parameters"] = parameters;
  ls::image::write_image(path, im, text, a.quality);
  std::cout << path << "\n";
}

namespace {

int run_batches(GenerateArgs& a) {
  GenerateSession session(a);
  auto stack = session.initial_stack();  // names resolved before the model loads: mistakes show at once
  session.start_model_hash();
  lorastack::Engine engine(a.model);
  if (!a.quiet) std::cerr << engine.describe() << "\n";
  if (!stack.empty()) session.apply_stack(engine, stack, !a.quiet);
  const int64_t per_batch = a.req.batch_size, total = per_batch * a.batch_count;
  Progress progress(a.batch_count, isatty(STDERR_FILENO) && !a.quiet, per_batch > 1 ? "batch" : "image");
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t seed0 = a.req.seed;
  for (int b = 0; b < a.batch_count; ++b) {
    lorastack::GenerateRequest req = a.req;
    req.prompt = session.tagged_prompt(a.req.prompt, stack);  // --lora adapters as A1111 tags in the parameters
    req.seed = seed0 + static_cast<uint64_t>(b) * static_cast<uint64_t>(per_batch);  // A1111: seed + image index
    progress.begin(b, per_batch > 1 && req.rng == "cuda" ? fmt::format("seeds {}-{}", req.seed, req.seed + per_batch - 1)
                                                         : fmt::format("seed {}", req.seed));
    auto result = engine.generate(req, [&](int step, int steps) {
      if (!a.quiet) progress.step(step, steps);
    });
    progress.end();
    for (size_t j = 0; j < result.images.size(); ++j) {
      const int64_t pos = static_cast<int64_t>(j), n = b * per_batch + pos;
      // --rng cuda draws image j of a batch from its own generator seeded seed + j (A1111); the CPU generators
      // draw the whole batch from one generator seeded `seed` (ComfyUI), so its images share that seed.
      const uint64_t seed = req.seed + (req.rng == "cuda" ? static_cast<uint64_t>(j) : 0);
      const int64_t batch = static_cast<int64_t>(result.images.size());
      std::string text = lorastack::with_model_hash(lorastack::image_parameters(result.parameters, seed, pos, batch),
                                                    session.model_hash());
      session.save(session.output_path(session.name_values(req, stack, seed, n, b, pos), n, total), result.images[j],
                   text);
    }
  }
  if (!a.quiet)
    std::cerr << fmt::format("{} image{} in {:.1f} s\n", total, total == 1 ? "" : "s",
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}

}  // namespace

int run_generate(GenerateArgs& a) {
  if (!a.xy.empty()) return run_xy(a);
  return run_batches(a);
}

void add_generate_command(CLI::App& app, ToolboxActions& actions) {
  auto gp = std::make_shared<GenerateArgs>();
  GenerateArgs& g = *gp;
  auto* gen = app.add_subcommand("generate", "text to image, with stacked LoRA-family adapters, batches and --xy grids");
  // ---- model ----
  gen->add_option("-m,--model", g.model.model, "checkpoint file (.safetensors, .ckpt) or diffusers folder")->required();
  gen->add_option("--config", g.model.config_yaml, "LDM yaml config (default: FILE.yaml beside the checkpoint)");
  gen->add_option("--tokenizer", g.model.tokenizer_dir, "folder with the CLIP vocab.json and merges.txt");
  gen->add_option("--prediction", g.model.prediction_type, "epsilon | v_prediction (default: from the model)");
  gen->add_option("--threads", g.model.threads, "CPU threads (0 = all)");
  gen->add_option("--device", g.model.device, "cpu | cuda | cuda:N (GPU backend, when built with CUDA)");
  gen->add_option("--precision", g.model.precision, "fp32 | fp16 | bf16 (CUDA compute precision)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  // ---- what to draw ----
  gen->add_option("-p,--prompt", g.req.prompt, "prompt; A1111 <lora:NAME:W> tags add adapters")->required();
  gen->add_option("-n,--negative-prompt", g.req.negative_prompt, "negative prompt");
  gen->add_option("--steps", g.req.steps, "sampling steps (default 20)")->check(CLI::Range(1, 1000));
  gen->add_option("--cfg-scale", g.req.cfg_scale, "classifier-free guidance scale (default 7.5)");
  gen->add_option("--sampler", g.req.sampler,
                  "euler | euler_a | heun | dpm2 | dpm2_a | dpm++2s_a | dpm++2m | dpm++2m_sde | dpm++3m_sde | lms | "
                  "ddim | lcm | uni_pc (bh2) | uni_pc_bh1 (default euler)");
  gen->add_option("--scheduler", g.req.scheduler,
                  "normal | karras | exponential | sgm_uniform | simple | ddim_uniform | beta; diffusers spacings "
                  "linspace | leading | trailing (default normal)");
  gen->add_option("--rng", g.req.rng,
                  "cpu (torch CPU generator, ComfyUI) | cpu-scalar (torch CPU generator without AVX2) | cuda (torch "
                  "CUDA Philox, A1111 default) (default cpu)")
      ->check(CLI::IsMember({"cpu", "cpu-scalar", "cuda"}));
  gen->add_option("--sampling-convention", g.req.sampling_convention,
                  "a1111 | comfyui | diffusers: initial noise scale and model timesteps (default a1111)")
      ->check(CLI::IsMember({"a1111", "comfyui", "diffusers"}));
  gen->add_option("--eta", g.req.eta, "DDIM eta (default 0)")->check(CLI::Range(0.0f, 1.0f));
  gen->add_flag("--zero-terminal-snr", g.req.zero_terminal_snr, "rescale the noise schedule to zero terminal SNR");
  gen->add_option("--init-img", g.req.init_image, "img2img: initial image (resized to -W x -H)");
  gen->add_option("--strength", g.req.strength, "img2img denoising strength 0..1 (default 0.75)")
      ->check(CLI::Range(0.0f, 1.0f));
  gen->add_option("--mask", g.req.mask, "inpainting mask image (white = repaint), needs --init-img");
  gen->add_option("--seed", g.req.seed,
                  "seed of the first image (default 0); batch k starts at seed + k·batch-size, and with --rng cuda "
                  "image i of the run uses seed + i (A1111)")
      ->check(CLI::Validator(
          [](std::string& v) {  // an unsigned option would wrap "-5" around to 18446744073709551611
            return !v.empty() && v[0] == '-' ? "'" + v + "' is negative; give a seed from 0 to 18446744073709551615"
                                             : std::string();
          },
          "", "non-negative"));
  gen->add_option("-W,--width", g.req.width, "width in pixels (a multiple of 64 for SD1.x / SD2.x; default 512)")->check(CLI::Range(8, 8192));
  gen->add_option("-H,--height", g.req.height, "height in pixels (a multiple of 64 for SD1.x / SD2.x; default 512)")->check(CLI::Range(8, 8192));
  gen->add_option("-b,--batch-size", g.req.batch_size, "images sampled together per batch (default 1)")
      ->check(CLI::Range(1, 64));
  gen->add_option("--batch-count", g.batch_count, "batches run one after another (default 1)")->check(CLI::Range(1, 10000));
  gen->add_option("--clip-skip", g.req.clip_skip, "1 = last layer, 2 = penultimate")->check(CLI::Range(1, 12));
  gen->add_option("--initial-noise", g.req.initial_noise, "safetensors with the starting noise (B,4,H/8,W/8)");
  gen->add_option("--save-latents", g.req.save_latents, "write final latents (tensor 'latents') here");
  // ---- adapters ----
  gen->add_option("--lora", g.loras,
                  "PATH_OR_NAME[:STRENGTH[:TE_STRENGTH]][:lbw=BLOCKS] (repeatable); BLOCKS: a LoRA Block Weight "
                  "preset (NONE ALL INS IND INALL MIDD OUTD OUTS OUTALL ALL0.5) or 17 / 26 comma-separated ratios");
  gen->add_option("--lora-dir", g.lora_dir, "folder where LoRA names resolve (file stem, subfolders too)");
  gen->add_option("--lora-mode", g.lora_mode, "fuse | runtime | auto")->check(CLI::IsMember({"fuse", "runtime", "auto"}));
  gen->add_flag("--lora-strict", g.lora_strict, "unused adapter keys are errors");
  // ---- output ----
  gen->add_option("-o,--output", g.out,
                  "output file or name pattern; .png, .jpg/.jpeg or .webp (default output.png); fields {seed} {n} "
                  "{batch} {pos} {prompt} {negative} {steps} {cfg} {sampler} {scheduler} {width} {height} {model} "
                  "{lora} {date} {time} {datetime}; {prompt:20} cuts text, {n:4} zero-pads numbers; A1111 [seed] "
                  "[prompt] [model_name] … work too; several images without {n}/{seed} get -N before the extension");
  gen->add_option("--quality", g.quality, "JPEG / WebP quality 1-100 (default 95)")->check(CLI::Range(1, 100));
  gen->add_option("--xy", g.xy,
                  "comparison axis AXIS=V1,V2,… (once: a row, twice: X columns then Y rows); AXIS: lora:NAME (strength), "
                  "seed (1,2 or 1-4), cfg, steps, sampler, scheduler, prompt (Prompt S/R: first value replaced by each)");
  gen->add_option("--font", g.font, "label font for --xy grids (default $LORASTACK_FONT or " +
                                        std::string(ls::image::kDefaultFont) + ")");
  gen->add_flag("-q,--quiet", g.quiet, "print only the paths written (and errors)");
  gen->footer(
      "Examples:\n"
      "  lorastack generate -m sd15.safetensors -p \"a photo of a cat\" --seed 42 -o cat.png\n"
      "  lorastack generate -m sd15.safetensors -p \"a castle <lora:ink:0.8>\" --lora-dir loras/ \\\n"
      "      --batch-count 4 -o \"out/{seed}-{prompt:20}.webp\"        # out/42-a_castle.webp, out/43-…\n"
      "  lorastack generate -m sd15.safetensors -p \"a cat\" --lora style.safetensors:1:lbw=OUTD -o cat.jpg\n"
      "  lorastack generate -m sd15.safetensors -p \"a cat\" --lora style.safetensors \\\n"
      "      --xy \"lora:style=0,0.5,1\" --xy \"seed=1,2\" -o grid.png   # 3 × 2 labelled grid\n"
      "Images carry A1111 \"parameters\" (PNG tEXt, JPEG / WebP EXIF UserComment); the paths written go to stdout.");
  actions.emplace_back(gen, [gp] { return run_generate(*gp); });
}
