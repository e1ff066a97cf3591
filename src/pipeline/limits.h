// Resource limits of one generation request and one adapter stack, in one place (issue 4: hostile
// input must be refused with a clear error before any work or allocation, never by running out of
// memory). Engine::generate and Engine::set_loras check them; front ends may check earlier but never
// allow more.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lorastack/lorastack.h"

namespace lorastack::limits {

/// Largest width or height in pixels (SD1/SD2 are trained at 512–768; 8192 is the CLI's range too).
inline constexpr int kMaxImageSide = 8192;
/// Largest image area in pixels (4096 × 4096): the UNet's self-attention at the first level is
/// (H/8 · W/8)² scores per head, so area — not side — is what bounds memory.
inline constexpr int64_t kMaxImagePixels = int64_t{4096} * 4096;
/// Largest batch_size × width × height: 64 images of 512², or 4 of 2048².
inline constexpr int64_t kMaxBatchPixels = int64_t{64} * 512 * 512;
/// Sampling steps, 1..kMaxSteps.
inline constexpr int kMaxSteps = 1000;
/// Images per request, 1..kMaxBatch.
inline constexpr int kMaxBatch = 64;
/// Largest prompt or negative prompt in bytes (the text encoder sees 77 tokens; 64 KiB is generous).
inline constexpr size_t kMaxPromptBytes = size_t{64} << 10;
/// Largest |cfg_scale| (A1111's slider stops at 30).
inline constexpr float kMaxCfgScale = 100.0f;
/// Largest number of adapters in one stack.
inline constexpr size_t kMaxAdapters = 64;
/// Largest |strength| of one adapter (A1111 and ComfyUI sliders stop at 2–10).
inline constexpr float kMaxAdapterStrength = 100.0f;

/// Check `req` against the limits above and the model: width and height positive multiples of
/// `size_multiple` (8 · 2^(UNet levels − 1)). Throws ls::Error naming the field, its value and the limit.
void check_request(const GenerateRequest& req, int size_multiple);

/// Check a batch of `batch` images of `pixels` pixels each (also the batch a starting-noise file implies
/// by its first dimension): 1..kMaxBatch images, at most kMaxBatchPixels in all. `what` names the
/// source in the message ("batch size", "initial noise batch"). Throws ls::Error.
void check_batch(int64_t batch, int64_t pixels, const char* what);

/// Check an adapter stack: at most kMaxAdapters entries, non-empty paths, finite strengths within
/// ±kMaxAdapterStrength. Throws ls::Error naming the entry.
void check_lora_stack(const std::vector<LoraSpec>& stack);

}  // namespace lorastack::limits
