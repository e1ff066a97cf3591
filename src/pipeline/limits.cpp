#include "pipeline/limits.h"

#include <cmath>

#include "runtime/error.h"

namespace lorastack::limits {

void check_request(const GenerateRequest& req, int size_multiple) {
  if (req.width <= 0 || req.height <= 0 || req.width > kMaxImageSide || req.height > kMaxImageSide)
    ls::fail("size {}x{}: width and height must be in 1..{}", req.width, req.height, kMaxImageSide);
  if (size_multiple <= 0 || req.width % size_multiple || req.height % size_multiple)
    ls::fail("size {}x{}: width and height must be positive multiples of {} for this model", req.width, req.height,
             size_multiple);
  const int64_t pixels = int64_t{req.width} * req.height;
  if (pixels > kMaxImagePixels)
    ls::fail("size {}x{}: {} pixels, more than the limit of {} (4096x4096)", req.width, req.height, pixels,
             kMaxImagePixels);
  if (req.steps < 1 || req.steps > kMaxSteps) ls::fail("steps {}: must be in 1..{}", req.steps, kMaxSteps);
  check_batch(req.batch_size, pixels, "batch size");
  if (!std::isfinite(req.cfg_scale) || std::fabs(req.cfg_scale) > kMaxCfgScale)
    ls::fail("cfg scale {}: must be finite and within ±{}", req.cfg_scale, kMaxCfgScale);
  if (req.prompt.size() > kMaxPromptBytes)
    ls::fail("prompt of {} bytes: longer than the limit of {} bytes", req.prompt.size(), kMaxPromptBytes);
  if (req.negative_prompt.size() > kMaxPromptBytes)
    ls::fail("negative prompt of {} bytes: longer than the limit of {} bytes", req.negative_prompt.size(),
             kMaxPromptBytes);
}

void check_batch(int64_t batch, int64_t pixels, const char* what) {
  if (batch < 1 || batch > kMaxBatch) ls::fail("{} {}: must be in 1..{}", what, batch, kMaxBatch);
  if (pixels * batch > kMaxBatchPixels)
    ls::fail("{} {} of {} pixels each: {} pixels in one batch, more than the limit of {} (64 images of 512x512)",
             what, batch, pixels, pixels * batch, kMaxBatchPixels);
}

void check_lora_stack(const std::vector<LoraSpec>& stack) {
  if (stack.size() > kMaxAdapters)
    ls::fail("{} adapters in one stack: more than the limit of {}", stack.size(), kMaxAdapters);
  for (size_t i = 0; i < stack.size(); ++i) {
    const LoraSpec& s = stack[i];
    if (s.path.empty()) ls::fail("adapter {} of the stack: empty path", i + 1);
    for (float v : {s.unet_strength, s.te_strength})
      if (!std::isfinite(v) || std::fabs(v) > kMaxAdapterStrength)
        ls::fail("{}: strength {} must be finite and within ±{}", s.path, v, kMaxAdapterStrength);
  }
}

}  // namespace lorastack::limits
