// The server's one worker: a bounded FIFO of jobs run one at a time on the resident Engine. The adapter stack
// is switched (Engine::set_loras) only when a job's stack differs from the current one — the base model is
// never reloaded. Cancelling a queued job removes it; a running job is stopped by throwing JobCancelled from
// the Engine's progress callback (the Engine propagates it and stays usable). Finished jobs are kept (with their
// PNG files) up to a count, then forgotten oldest first, so memory and disk stay bounded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/job.h"

namespace ls::server {

/// Thrown from the progress callback to stop a running job.
struct JobCancelled : std::exception {
  const char* what() const noexcept override { return "job cancelled"; }
};

struct QueueOptions {
  int capacity = 16;           ///< queued jobs (not counting the running one); more → ApiError 429
  int keep_finished = 100;     ///< finished jobs remembered (with their images)
  std::string output_dir;      ///< where PNG files are written (must exist)
  bool delete_evicted = true;  ///< remove a forgotten job's PNG files
  lorastack::LoraMode lora_mode = lorastack::LoraMode::Auto;
  /// A1111 "Model hash" written into every image's parameters (pipeline/parameters.h); "" = left out.
  std::string model_hash;
  /// Called by the worker after every sampling step, outside the lock (tests use it to hold a job running).
  std::function<void(const std::string& job_id, int step, int total)> step_hook;
};

struct QueueStats {
  int queued = 0;
  int running = 0;
  int capacity = 0;
  uint64_t done = 0, failed = 0, cancelled = 0;
  uint64_t lora_switches = 0;  ///< Engine::set_loras calls
  std::string running_id;
  int running_step = 0, running_total = 0;
  std::vector<JobLora> active_stack;
};

class JobQueue {
 public:
  JobQueue(lorastack::Engine& engine, QueueOptions options);
  ~JobQueue();  ///< stop()
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  /// Queue a job; returns it. Throws ApiError 429 when `capacity` jobs are waiting, 503 once stopping.
  std::shared_ptr<Job> submit(JobSpec spec);
  /// The job `id`, or nullptr when unknown or forgotten.
  std::shared_ptr<Job> find(const std::string& id);
  /// A consistent copy of the job's state.
  JobView view(const Job& job);

  enum class CancelResult { NotFound, Removed, Cancelling, Forgotten };
  /// Queued → removed (status cancelled); running → cancel flag set (stops at the next step); finished → the
  /// job and its images are forgotten.
  CancelResult cancel(const std::string& id);
  /// Cancel the running job, if any (A1111 /sdapi/v1/interrupt). Returns its id or "".
  std::string interrupt();

  /// Wait until the job's version differs from `seen` or it finished; false on timeout or when stopping.
  bool wait_change(const Job& job, uint64_t seen, std::chrono::milliseconds timeout);
  /// Wait until the job finished (or the queue stops); returns its final view.
  JobView wait_finished(const Job& job);

  QueueStats stats();
  /// Stop the worker: the running job is cancelled, queued ones too; waiters wake up. Idempotent.
  void stop();
  bool stopping();

 private:
  void worker_loop();
  void run(const std::shared_ptr<Job>& job);
  void bump(Job& job);  ///< under the lock: version++ and notify
  void finish(const std::shared_ptr<Job>& job, JobStatus status, const std::string& error, int error_status);
  void forget_locked(const std::string& id);

  lorastack::Engine& engine_;
  QueueOptions options_;
  std::mutex mutex_;
  std::condition_variable work_cv_, change_cv_;
  std::deque<std::shared_ptr<Job>> pending_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> finished_order_;
  std::shared_ptr<Job> running_;
  bool stopping_ = false;
  uint64_t next_serial_ = 0;
  QueueStats counters_;
  // worker-only state
  bool stack_known_ = true;  ///< false after a failed set_loras: the next job sets its stack whatever it is
  std::vector<JobLora> stack_;
  std::thread worker_;
};

}  // namespace ls::server
