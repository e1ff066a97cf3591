// One generation job of the server: what was asked (JobSpec, validated), and what happened (status, progress,
// result files). Jobs are shared between the HTTP threads and the worker; every field below `cancel` is guarded
// by the JobQueue's mutex (read them through JobQueue::view).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lorastack/lorastack.h"

namespace ls::server {

enum class JobStatus { Queued, Running, Done, Error, Cancelled };

/// "queued", "running", "done", "error", "cancelled".
const char* status_name(JobStatus s);
inline bool finished(JobStatus s) { return s == JobStatus::Done || s == JobStatus::Error || s == JobStatus::Cancelled; }

/// One adapter of a job's stack, resolved inside the LoRA folder.
struct JobLora {
  std::string name;      ///< the library name ("style", "sub/style")
  std::string rel_path;  ///< relative to the LoRA folder
  std::string path;      ///< absolute canonical path
  float strength = 1.0f;     ///< UNet (A1111 "unet")
  float te_strength = 1.0f;  ///< text encoder (A1111 "te")
  std::string block_weights; ///< LoRA Block Weight preset or ratios ("" = none), lorastack::LoraSpec::block_weights
  bool operator==(const JobLora&) const = default;
};

/// A validated job. `request.prompt` is the prompt as given plus an A1111 tag for every adapter named outside it
/// (so the PNG "parameters" text records the whole stack); initial_noise / save_latents are never set.
struct JobSpec {
  std::string api = "native";  ///< "native", "a1111", "openai"
  lorastack::GenerateRequest request;
  std::vector<JobLora> loras;  ///< prompt tags first (in prompt order), then the request's "loras" list
  int n_iter = 1;              ///< generate() calls; call k uses seed + k·batch_size
  bool random_seed = false;    ///< the client asked for -1
  nlohmann::json parameters;   ///< the normalized request (echoed by GET /v1/jobs/{id})
  /// img2img: the init image and the optional inpainting mask as sent (PNG / JPEG / WebP bytes, decoded from
  /// base64). The worker writes them to files of its own for the Engine (request.init_image / mask) and removes
  /// them after the job; clients never name a path.
  std::string init_image_bytes, mask_bytes;
  int images() const { return n_iter * request.batch_size; }
};

/// Result of one job. Progress counts steps over all iterations (total = steps · n_iter).
struct JobView {
  std::string id;
  JobStatus status = JobStatus::Queued;
  int position = 0;  ///< 1-based place in the queue while queued
  int step = 0, total = 0;
  std::string error;
  int error_status = 0;                ///< HTTP status a synchronous API answers with
  std::vector<std::string> images;     ///< PNG files (each with the "parameters" text chunk)
  std::vector<uint64_t> seeds;         ///< per image
  std::vector<std::string> infotexts;  ///< per image: the PNG's "parameters" text
  double created = 0, started = 0, finished = 0;  ///< Unix seconds (0 = not yet)
  bool lora_switched = false;   ///< the worker called Engine::set_loras for this job
  double lora_seconds = 0;      ///< time spent switching the adapter stack
  double generate_seconds = 0;  ///< time spent in Engine::generate (all iterations)
  uint64_t version = 0;  ///< bumped on every change
};

struct Job {
  std::string id;
  JobSpec spec;
  std::atomic<bool> cancel{false};
  JobView state;  ///< guarded by the JobQueue mutex
};

}  // namespace ls::server
