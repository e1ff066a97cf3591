// `lorastack lora …`: the LoRA toolbox on the command line (src/toolbox/).
#include <iostream>
#include <memory>

#include "adapters/spec.h"
#include "toolbox/convert.h"
#include "toolbox/extract.h"
#include "toolbox/linalg.h"
#include "toolbox/inspect.h"
#include "toolbox/merge.h"
#include "toolbox/resize.h"
#include "toolbox_commands.h"

namespace {

struct InspectArgs {
  std::vector<std::string> files;
  bool json = false;
};

int run_inspect(const InspectArgs& a) {
  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < a.files.size(); ++i) {
    auto r = ls::toolbox::inspect_adapter(a.files[i]);
    if (a.json) all.push_back(ls::toolbox::inspect_json(r));
    else std::cout << (i ? "\n" : "") << ls::toolbox::inspect_text(r);
  }
  if (a.json) std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
  return 0;
}

const std::map<std::string, ls::DType> kDTypes = {{"fp32", ls::DType::F32}, {"fp16", ls::DType::F16}, {"bf16", ls::DType::BF16}};

struct ConvertArgs {
  std::string in, to, out;
};

struct ResizeArgs {
  std::string in, out, dynamic, dtype = "fp32";
  ls::toolbox::ResizeOptions opts;
};

struct ExtractArgs {
  std::string base, tuned, out, dtype = "fp32";
  ls::toolbox::ExtractOptions opts;
};

struct MergeArgs {
  std::vector<std::string> loras;
  std::string model, config, out, dtype;
  bool concat = false;
  int64_t rank = 0;
};

int run_convert(const ConvertArgs& a) {
  auto r = ls::toolbox::convert_adapter(a.in, ls::toolbox::parse_layout(a.to), a.out);
  std::cout << fmt::format("{}: {} modules (unet {}, text encoder {}), {} → {}\n", a.out, r.modules, r.unet_modules,
                           r.te_modules, r.from_format, a.to);
  return 0;
}

/// `--device cpu|cuda` of the SVD-based commands: where toolbox::svd runs (LAPACK or cuSOLVER).
std::shared_ptr<std::string> add_svd_device_option(CLI::App* sub) {
  auto d = std::make_shared<std::string>("cpu");
  sub->add_option("--device", *d, "where the SVDs run: cpu (LAPACK) or cuda (cuSOLVER)")->capture_default_str();
  return d;
}

void use_svd_device(const std::string& d) {
  if (d == "cpu") return ls::toolbox::set_svd_device(ls::Device::CPU);
  if (d != "cuda") throw ls::Error("--device '" + d + "': expected cpu or cuda");
  ls::toolbox::set_svd_device(ls::Device::CUDA);
}

int run_resize(ResizeArgs& a) {
  a.opts.method = ls::toolbox::parse_dynamic_method(a.dynamic);
  if (a.opts.method != ls::toolbox::DynamicMethod::None && a.opts.param <= 0)
    throw ls::Error("--dynamic " + a.dynamic + " needs --param P (sv_ratio: P ≥ 1; sv_fro, sv_cumulative: 0 < P ≤ 1)");
  a.opts.dtype = kDTypes.at(a.dtype);
  auto r = ls::toolbox::resize_adapter(a.in, a.opts, a.out);
  std::string ranks;
  for (auto& [k, n] : r.new_ranks) ranks += (ranks.empty() ? "" : ", ") + fmt::format("rank {} ×{}", k, n);
  std::cout << fmt::format("{}: {} modules ({}); Frobenius norm kept: mean {:.2f} %, min {:.2f} %\n", a.out, r.modules,
                           ranks, 100 * r.mean_fro_retained, 100 * r.min_fro_retained);
  return 0;
}

int run_extract(ExtractArgs& a) {
  a.opts.dtype = kDTypes.at(a.dtype);
  auto r = ls::toolbox::extract_lora(a.base, a.tuned, a.opts, a.out);
  std::cout << fmt::format("{}: {} LoRA, {} modules (unet {}, text encoder {}); {} weights below --min-diff skipped\n",
                           a.out, r.family, r.modules, r.unet_modules, r.te_modules, r.skipped);
  return 0;
}

int run_merge(const MergeArgs& a) {
  std::vector<ls::toolbox::MergeInput> in;
  for (const std::string& l : a.loras) {
    ls::adapters::LoraSpec s = ls::adapters::parse_lora_arg(l);
    in.push_back({s.name, s.unet_strength, s.te_strength, s.block_weights});
  }
  ls::toolbox::MergeReport r;
  if (!a.model.empty()) {
    if (a.concat || a.rank > 0) throw ls::Error("--concat / --rank merge adapters into one adapter; leave them out with --model");
    std::optional<ls::DType> dt;
    if (!a.dtype.empty()) dt = kDTypes.at(a.dtype);
    r = ls::toolbox::merge_into_checkpoint(a.model, a.config, in, a.out, dt);
    for (auto& s : r.adapters) std::cerr << s << "\n";
    std::cout << fmt::format("{}: {} with {} weights changed\n", a.out, a.model, r.weights);
    return 0;
  }
  if (a.concat == (a.rank > 0))
    throw ls::Error("lora merge: give --model M (merge into a checkpoint), or --concat or --rank R (merge into one adapter)");
  r = ls::toolbox::merge_adapters(in, a.concat ? 0 : a.rank, a.out, kDTypes.at(a.dtype.empty() ? "fp32" : a.dtype));
  for (auto& s : r.adapters) std::cerr << s << "\n";
  std::cout << fmt::format("{}: {} modules, largest rank {}\n", a.out, r.weights, r.max_rank);
  return 0;
}

}  // namespace

void add_lora_commands(CLI::App& app, ToolboxActions& actions) {
  auto* lora = app.add_subcommand("lora", "LoRA tools: inspect, convert, resize, extract, merge");
  lora->require_subcommand(1);
  lora->footer("Run 'lorastack lora COMMAND --help' for a command's options and examples.");

  auto ia = std::make_shared<InspectArgs>();
  auto* inspect = lora->add_subcommand(
      "inspect",
      "show an adapter's format, type, base family, rank/alpha per module group, metadata, trigger words and hashes "
      "(sha256, CivitAI AutoV2, A1111 short hash, kohya sshs_model_hash check)");
  inspect->add_option("file", ia->files, "adapter file(s): .safetensors, .ckpt, .pt")->required()->check(CLI::ExistingFile);
  inspect->add_flag("--json", ia->json, "print JSON (full metadata) instead of text");
  inspect->footer(
      "Examples:\n"
      "  lorastack lora inspect style.safetensors\n"
      "  lorastack lora inspect --json loras/*.safetensors > report.json\n"
      "Hashes: sha256 of the file, CivitAI AutoV2 (its first 10 hex), A1111 addnet hash / short hash (12 hex, the\n"
      "'Lora hashes' of A1111 infotexts), kohya sshs_model_hash and sshs_legacy_hash recomputed and compared.");
  actions.emplace_back(inspect, [ia] { return run_inspect(*ia); });

  auto dtypes = CLI::IsMember({"fp32", "fp16", "bf16"});

  auto ca = std::make_shared<ConvertArgs>();
  auto* convert = lora->add_subcommand(
      "convert", "rename a LoRA / LoCon between kohya (lora_unet_…, .alpha tensors) and diffusers/PEFT (unet.…lora_A, "
                 "alpha in lora_adapter_metadata); tensors are copied bit for bit");
  convert->add_option("input", ca->in, "adapter file")->required()->check(CLI::ExistingFile);
  convert->add_option("--to", ca->to, "kohya | peft")->required()->check(CLI::IsMember({"kohya", "peft"}));
  convert->add_option("-o,--output", ca->out, "output .safetensors")->required();
  convert->footer(
      "Examples:\n"
      "  lorastack lora convert style.safetensors --to peft -o style-peft.safetensors\n"
      "  lorastack lora convert pytorch_lora_weights.safetensors --to kohya -o style-kohya.safetensors");
  actions.emplace_back(convert, [ca] { return run_convert(*ca); });

  auto ra = std::make_shared<ResizeArgs>();
  auto* resize = lora->add_subcommand(
      "resize", "change a LoRA / LoCon's rank by SVD keeping its scale (new alpha = alpha/rank · new rank, as kohya "
                "resize_lora); writes kohya names");
  resize->add_option("input", ra->in, "adapter file")->required()->check(CLI::ExistingFile);
  resize->add_option("--rank", ra->opts.rank, "new rank (the upper bound with --dynamic)")->required()->check(CLI::PositiveNumber);
  resize->add_option("--conv-rank", ra->opts.conv_rank, "rank of 3×3 conv modules (default: --rank)")->check(CLI::NonNegativeNumber);
  resize->add_option("--dynamic", ra->dynamic,
                     "choose each module's rank: sv_ratio (keep σ > σmax/P), sv_fro (keep P of the Frobenius norm), "
                     "sv_cumulative (keep P of Σσ)")
      ->check(CLI::IsMember({"sv_ratio", "sv_fro", "sv_cumulative"}));
  resize->add_option("--param", ra->opts.param, "P for --dynamic");
  resize->add_option("--dtype", ra->dtype, "fp32 | fp16 | bf16 (default fp32)")->check(dtypes);
  resize->add_option("-o,--output", ra->out, "output .safetensors")->required();
  resize->footer(
      "Examples:\n"
      "  lorastack lora resize style.safetensors --rank 8 -o style-r8.safetensors\n"
      "  lorastack lora resize style.safetensors --rank 32 --dynamic sv_fro --param 0.9 -o style-fro90.safetensors");
  auto resize_dev = add_svd_device_option(resize);
  actions.emplace_back(resize, [ra, resize_dev] {
    use_svd_device(*resize_dev);
    return run_resize(*ra);
  });

  auto ea = std::make_shared<ExtractArgs>();
  auto* extract = lora->add_subcommand(
      "extract", "make a LoRA from the difference of two checkpoints (tuned − base) by SVD per layer, as kohya "
                 "extract_lora_from_models; writes kohya names");
  extract->add_option("--base", ea->base, "the original checkpoint (file or diffusers folder)")->required();
  extract->add_option("--tuned", ea->tuned, "the fine-tuned checkpoint")->required();
  extract->add_option("--rank", ea->opts.rank, "rank of Linear / 1×1 conv modules")->required()->check(CLI::PositiveNumber);
  extract->add_option("--conv-rank", ea->opts.conv_rank, "rank of 3×3 conv modules (default 0: not extracted)")
      ->check(CLI::NonNegativeNumber);
  extract->add_option("--clamp-quantile", ea->opts.clamp_quantile, "clamp factors to this quantile (default 0.99; 1 = off)")
      ->check(CLI::Range(0.0, 1.0));
  extract->add_option("--min-diff", ea->opts.min_diff, "skip layers whose largest |ΔW| is below this (default 0.01)")
      ->check(CLI::NonNegativeNumber);
  extract->add_option("--base-config", ea->opts.base_config, "LDM yaml of --base");
  extract->add_option("--tuned-config", ea->opts.tuned_config, "LDM yaml of --tuned");
  extract->add_option("--dtype", ea->dtype, "fp32 | fp16 | bf16 (default fp32)")->check(dtypes);
  extract->add_option("-o,--output", ea->out, "output .safetensors")->required();
  extract->footer(
      "Examples:\n"
      "  lorastack lora extract --base sd15.safetensors --tuned finetuned.safetensors --rank 32 -o diff.safetensors\n"
      "  lorastack lora extract --base a.ckpt --tuned b.ckpt --rank 16 --conv-rank 8 --min-diff 0.005 -o diff.safetensors");
  auto extract_dev = add_svd_device_option(extract);
  actions.emplace_back(extract, [ea, extract_dev] {
    use_svd_device(*extract_dev);
    return run_extract(*ea);
  });

  auto ma = std::make_shared<MergeArgs>();
  auto* merge = lora->add_subcommand(
      "merge", "merge adapters into a checkpoint (--model; every adapter type, as the generate stack fuses them), or "
               "LoRA / LoCon adapters into one: exactly by concatenating ranks (--concat) or by SVD (--rank R)");
  merge->add_option("--lora", ma->loras, "FILE[:STRENGTH[:TE_STRENGTH]][:lbw=BLOCKS] (repeatable; BLOCKS below)")
      ->required();
  merge->add_option("-m,--model", ma->model, "checkpoint to merge into (SD1.x file or diffusers folder)");
  merge->add_option("--config", ma->config, "LDM yaml of --model");
  merge->add_flag("--concat", ma->concat, "one adapter, exact: ranks concatenated, strengths folded in");
  merge->add_option("--rank", ma->rank, "one adapter of this rank by SVD of the summed deltas")->check(CLI::PositiveNumber);
  merge->add_option("--dtype", ma->dtype,
                    "fp32 | fp16 | bf16 (adapters default fp32; checkpoints keep each tensor's stored dtype)")
      ->check(dtypes);
  merge->add_option("-o,--output", ma->out, "output .safetensors")->required();
  merge->footer(
      "Examples:\n"
      "  lorastack lora merge -m sd15.safetensors --lora style.safetensors:0.8 -o sd15-style.safetensors\n"
      "  lorastack lora merge --lora a.safetensors:0.7 --lora b.safetensors:0.5 --concat -o ab.safetensors\n"
      "  lorastack lora merge --lora a.safetensors --lora b.safetensors --rank 16 -o ab-r16.safetensors\n"
      "  lorastack lora merge --lora style.safetensors:1:lbw=OUTD --concat -o style-outd.safetensors\n"
      "Block weights (A1111 LoRA Block Weight, SD1.x/SD2.x): lbw=PRESET or 17 / 26 ratios. Presets: NONE ALL INS IND\n"
      "INALL MIDD OUTD OUTS OUTALL ALL0.5, or one block (BASE, IN01 … OUT11, MID). 17 values: BASE IN01 IN02 IN04 IN05\n"
      "IN07 IN08 M00 OUT03-OUT11; 26 values: BASE IN00-IN11 M00 OUT00-OUT11. BASE is the text encoder.");
  auto merge_dev = add_svd_device_option(merge);
  actions.emplace_back(merge, [ma, merge_dev] {
    use_svd_device(*merge_dev);
    return run_merge(*ma);
  });
}
