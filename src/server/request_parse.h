// Request bodies of the three APIs → validated JobSpecs. Every field is checked (type → 400; range, unknown
// names, LoRAs → 422; LoRA paths leaving the LoRA folder → 403) before a job is queued, so a queued job fails
// only for reasons the request could not show (an adapter file that does not fit the model).
//
// Server limits (tighter than the Engine's, src/pipeline/limits.h):
//   steps 1..150; width, height multiples of the model's size multiple (64 for SD1.x) in that..2048;
//   batch_size 1..8, n_iter 1..16, at most 16 images per job; cfg_scale 0..30; clip_skip 1..12;
//   at most 16 adapters per job, strengths within ±10; prompts at most 64 KiB.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "server/job.h"
#include "server/lora_library.h"

namespace ls::server {

inline constexpr int kMaxSteps = 150;
inline constexpr int kMaxSide = 2048;
inline constexpr int kMaxBatch = 8;
inline constexpr int kMaxIter = 16;
inline constexpr int kMaxImagesPerJob = 16;
inline constexpr double kMaxCfg = 30.0;
inline constexpr int kMaxLoras = 16;
inline constexpr double kMaxStrength = 10.0;

/// What parsing needs from the server.
struct ParseContext {
  LoraLibrary& loras;
  int size_multiple = 64;  ///< Engine::size_multiple()
};

/// POST /v1/jobs: {prompt, negative_prompt, steps, cfg_scale, sampler, scheduler, seed, width, height, batch_size,
/// n_iter, clip_skip, rng (cpu | cuda | cpu-scalar), loras: [{name | path, strength, te_strength, block_weights}],
/// and for img2img init_image (base64 PNG / JPEG / WebP), strength (0..1), mask. Unknown fields are refused (400).
JobSpec parse_native(const nlohmann::json& body, ParseContext& ctx);

/// POST /sdapi/v1/txt2img (and with `img2img` /sdapi/v1/img2img) as the A1111 web UI API takes it: prompt (with
/// <lora:…> tags), negative_prompt, steps, cfg_scale, sampler_name (or sampler_index), scheduler, seed, width,
/// height, batch_size, n_iter, override_settings.CLIP_stop_at_last_layers / randn_source (default "GPU", i.e. the
/// torch CUDA generator A1111 uses); img2img adds init_images (one base64 image), mask, denoising_strength.
/// Unknown fields are ignored, as A1111 does; features we do not have (enable_hr, restore_faces, tiling,
/// subseed_strength > 0, script_name) are refused with 422 when switched on.
JobSpec parse_a1111(const nlohmann::json& body, ParseContext& ctx, bool img2img);

/// POST /v1/images/generations (OpenAI): {prompt, n, size "WxH", response_format "b64_json" | "url", model
/// (ignored)} plus extensions {negative_prompt, steps, cfg_scale, sampler, scheduler, seed, loras}.
/// `response_format` receives the format ("url" when absent, as OpenAI's default).
JobSpec parse_openai(const nlohmann::json& body, ParseContext& ctx, std::string& response_format);

}  // namespace ls::server
