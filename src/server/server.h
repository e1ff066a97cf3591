// `lorastack serve`: one resident Engine behind an HTTP server (cpp-httplib). A single worker thread runs jobs
// from a bounded queue (job_queue.h); each job names its adapter stack and the worker switches stacks only when
// they differ (no base reload). APIs (routes_*.cpp; docs/server.md has curl examples):
//   native   POST /v1/jobs, GET /v1/jobs/{id}, DELETE /v1/jobs/{id}, GET /v1/jobs/{id}/events (SSE),
//            GET /v1/jobs/{id}/images/{k}.png, GET /v1/server
//   A1111    POST /sdapi/v1/txt2img, /sdapi/v1/img2img (501), GET /sdapi/v1/loras, /sd-models, /samplers,
//            /schedulers, /progress, /options, POST /sdapi/v1/interrupt, /refresh-loras
//   OpenAI   POST /v1/images/generations (LoRAs through the "loras" extension field), GET /v1/models
//   web page GET / (src/server/web, embedded)
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "lorastack/lorastack.h"

namespace ls::server {

class JobQueue;

struct ServerOptions {
  lorastack::ModelOptions model;
  std::string lora_dir;            ///< "" = no LoRAs
  std::string host = "127.0.0.1";  ///< address to bind
  int port = 7860;                 ///< 0 = any free port (see Server::port())
  int queue = 16;                  ///< jobs that may wait behind the running one; one more → 429
  int keep_jobs = 100;             ///< finished jobs (and their PNGs) kept for GET; older ones are forgotten
  std::string output_dir;          ///< where PNGs go; "" = a fresh temporary folder removed on exit
  int http_threads = 0;            ///< 0 = queue + 8 (a waiting synchronous request holds one thread)
  lorastack::LoraMode lora_mode = lorastack::LoraMode::Auto;
  bool access_log = false;         ///< one stderr line per request
  /// Called by the worker after each sampling step (tests hold a job "running" with it).
  std::function<void(const std::string& job_id, int step, int total)> step_hook;
};

class Server {
 public:
  /// Load the model (once) and prepare the output folder. Throws ls::Error (bad model, LoRA folder, options).
  explicit Server(ServerOptions options);
  ~Server();  ///< stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Bind and serve on a background thread. Throws ls::Error when the address cannot be bound.
  void start();
  /// The bound port (after start()).
  int port() const;
  /// "http://HOST:PORT".
  std::string url() const;
  /// Cancel queued and running jobs, close connections, join threads. Idempotent; safe from any thread.
  void stop();
  /// Block until stop() was called (from another thread or a signal handler thread).
  void wait();

  JobQueue& queue();
  /// GET /v1/server: model, LoRA folder, queue counters, resident memory.
  nlohmann::json info();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Resident set size of this process in bytes (/proc/self/statm), 0 when unknown.
uint64_t resident_bytes();

}  // namespace ls::server
