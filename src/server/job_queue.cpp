#include "server/job_queue.h"

#include <filesystem>
#include <fstream>
#include <random>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "pipeline/parameters.h"
#include "runtime/error.h"
#include "runtime/ops.h"
#include "server/api_error.h"

namespace ls::server {

namespace {
double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
std::vector<lorastack::LoraSpec> to_specs(const std::vector<JobLora>& loras) {
  std::vector<lorastack::LoraSpec> out;
  for (const auto& l : loras) {
    lorastack::LoraSpec s;
    s.path = l.path;
    s.unet_strength = l.strength;
    s.te_strength = l.te_strength;
    s.block_weights = l.block_weights;
    out.push_back(std::move(s));
  }
  return out;
}
}  // namespace

const char* status_name(JobStatus s) {
  switch (s) {
    case JobStatus::Queued: return "queued";
    case JobStatus::Running: return "running";
    case JobStatus::Done: return "done";
    case JobStatus::Error: return "error";
    case JobStatus::Cancelled: return "cancelled";
  }
  return "?";
}

JobQueue::JobQueue(lorastack::Engine& engine, QueueOptions options) : engine_(engine), options_(std::move(options)) {
  counters_.capacity = options_.capacity;
  worker_ = std::thread([this] { worker_loop(); });
}

JobQueue::~JobQueue() { stop(); }

void JobQueue::bump(Job& job) {
  ++job.state.version;
  change_cv_.notify_all();
}

std::shared_ptr<Job> JobQueue::submit(JobSpec spec) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto job = std::make_shared<Job>();
  job->spec = std::move(spec);
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) api_fail(503, "", "the server is shutting down");
  if (static_cast<int>(pending_.size()) >= options_.capacity)
    api_fail(429, "", "queue full: {} jobs waiting (the limit, --queue {}); retry later", pending_.size(),
             options_.capacity);
  job->id = fmt::format("{:012x}{:04x}", rng() & 0xffffffffffffull, (next_serial_++) & 0xffff);
  job->state.id = job->id;
  job->state.created = unix_now();
  job->state.total = job->spec.request.steps * job->spec.n_iter;
  jobs_[job->id] = job;
  pending_.push_back(job);
  work_cv_.notify_one();
  return job;
}

std::shared_ptr<Job> JobQueue::find(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second;
}

JobView JobQueue::view(const Job& job) {
  std::lock_guard<std::mutex> lock(mutex_);
  JobView v = job.state;
  if (v.status == JobStatus::Queued)
    for (size_t i = 0; i < pending_.size(); ++i)
      if (pending_[i].get() == &job) v.position = static_cast<int>(i) + 1;
  return v;
}

void JobQueue::forget_locked(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  if (options_.delete_evicted)
    for (const auto& f : it->second->state.images) {
      std::error_code ec;
      std::filesystem::remove(f, ec);
    }
  jobs_.erase(it);
}

JobQueue::CancelResult JobQueue::cancel(const std::string& id) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return CancelResult::NotFound;
    job = it->second;
    if (job->state.status == JobStatus::Running) {
      job->cancel = true;
      return CancelResult::Cancelling;
    }
    if (job->state.status != JobStatus::Queued) {
      for (auto f = finished_order_.begin(); f != finished_order_.end(); ++f)
        if (*f == id) {
          finished_order_.erase(f);
          break;
        }
      forget_locked(id);
      return CancelResult::Forgotten;
    }
    for (auto p = pending_.begin(); p != pending_.end(); ++p)
      if (p->get() == job.get()) {
        pending_.erase(p);
        break;
      }
    job->cancel = true;
  }
  finish(job, JobStatus::Cancelled, "cancelled before it started", 409);
  return CancelResult::Removed;
}

std::string JobQueue::interrupt() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!running_) return "";
  running_->cancel = true;
  return running_->id;
}

bool JobQueue::wait_change(const Job& job, uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return change_cv_.wait_for(lock, timeout, [&] {
    return job.state.version != seen || finished(job.state.status) || stopping_;
  }) && !(stopping_ && !finished(job.state.status));
}

JobView JobQueue::wait_finished(const Job& job) {
  std::unique_lock<std::mutex> lock(mutex_);
  change_cv_.wait(lock, [&] { return finished(job.state.status) || stopping_; });
  return job.state;
}

QueueStats JobQueue::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  QueueStats s = counters_;
  s.queued = static_cast<int>(pending_.size());
  s.running = running_ ? 1 : 0;
  if (running_) {
    s.running_id = running_->id;
    s.running_step = running_->state.step;
    s.running_total = running_->state.total;
  }
  s.active_stack = stack_known_ ? stack_ : std::vector<JobLora>{};
  return s;
}

bool JobQueue::stopping() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopping_;
}

void JobQueue::stop() {
  std::deque<std::shared_ptr<Job>> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
    dropped.swap(pending_);
    if (running_) running_->cancel = true;
    work_cv_.notify_all();
    change_cv_.notify_all();
  }
  for (auto& j : dropped) finish(j, JobStatus::Cancelled, "the server is shutting down", 503);
  if (worker_.joinable()) worker_.join();
}

void JobQueue::finish(const std::shared_ptr<Job>& job, JobStatus status, const std::string& error, int error_status) {
  std::lock_guard<std::mutex> lock(mutex_);
  job->state.status = status;
  job->state.error = error;
  job->state.error_status = error_status;
  job->state.finished = unix_now();
  if (status == JobStatus::Done) ++counters_.done;
  else if (status == JobStatus::Error) ++counters_.failed;
  else ++counters_.cancelled;
  if (running_ == job) running_.reset();
  finished_order_.push_back(job->id);
  while (static_cast<int>(finished_order_.size()) > options_.keep_finished) {
    forget_locked(finished_order_.front());
    finished_order_.pop_front();
  }
  bump(*job);
}

void JobQueue::worker_loop() {
  // OpenMP's thread count is per thread: the Engine set it (ModelOptions::threads) on the thread that built it,
  // so apply the same count here, where every job runs (else OpenMP uses its default on this thread).
  ls::ops::set_num_threads(ls::ops::num_threads());
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (stopping_) return;
      job = pending_.front();
      pending_.pop_front();
      running_ = job;
      job->state.status = JobStatus::Running;
      job->state.started = unix_now();
      bump(*job);
    }
    run(job);
#ifdef __GLIBC__
    // Give the activations of a finished job back to the system: a large job (2048², batch 8) would otherwise
    // keep the server's resident size at its peak for as long as it runs.
    malloc_trim(0);
#endif
  }
}

void JobQueue::run(const std::shared_ptr<Job>& job) {
  const JobSpec& spec = job->spec;
  try {
    if (job->cancel) throw JobCancelled();
    if (!stack_known_ || spec.loras != stack_) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stack_known_ = false;  // a failed switch leaves the Engine's stack unknown to us
        ++counters_.lora_switches;
      }
      const auto t0 = std::chrono::steady_clock::now();
      try {
        engine_.set_loras(to_specs(spec.loras), options_.lora_mode);
      } catch (const std::exception& e) {
        finish(job, JobStatus::Error, std::string("LoRA stack: ") + e.what(), 422);
        return;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      stack_ = spec.loras;
      stack_known_ = true;
      job->state.lora_switched = true;
      job->state.lora_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    // img2img inputs as files of this job, removed whatever happens
    struct TempFiles {
      std::vector<std::string> paths;
      ~TempFiles() {
        for (auto& p : paths) {
          std::error_code ec;
          std::filesystem::remove(p, ec);
        }
      }
    } temp;
    auto write_input = [&](const std::string& bytes, const char* what) {
      auto path = (std::filesystem::path(options_.output_dir) / fmt::format("{}-{}.input", job->id, what)).string();
      std::ofstream f(path, std::ios::binary);
      f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!f) ls::fail("{}: cannot write the job's {} image", path, what);
      temp.paths.push_back(path);
      return path;
    };
    lorastack::GenerateRequest base = spec.request;
    if (!spec.init_image_bytes.empty()) base.init_image = write_input(spec.init_image_bytes, "init");
    if (!spec.mask_bytes.empty()) base.mask = write_input(spec.mask_bytes, "mask");
    const int steps = spec.request.steps;
    const int total = steps * spec.n_iter;
    for (int k = 0; k < spec.n_iter; ++k) {
      if (job->cancel) throw JobCancelled();
      lorastack::GenerateRequest req = base;
      req.seed = spec.request.seed + static_cast<uint64_t>(k) * static_cast<uint64_t>(req.batch_size);
      auto progress = [&](int step, int) {
        if (job->cancel) throw JobCancelled();
        {
          std::lock_guard<std::mutex> lock(mutex_);
          job->state.step = k * steps + step;
          job->state.total = total;
          bump(*job);
        }
        if (options_.step_hook) options_.step_hook(job->id, k * steps + step, total);
        if (job->cancel) throw JobCancelled();
      };
      const auto t0 = std::chrono::steady_clock::now();
      auto result = engine_.generate(req, progress);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::vector<std::string> files, texts;
      std::vector<uint64_t> seeds;
      const int64_t n = static_cast<int64_t>(result.images.size());
      for (int64_t i = 0; i < n; ++i) {
        const size_t index = static_cast<size_t>(k) * req.batch_size + static_cast<size_t>(i);
        auto path = (std::filesystem::path(options_.output_dir) / fmt::format("{}-{}.png", job->id, index)).string();
        // the torch CUDA generator gives image b of a batch the seed + b (A1111); the CPU one draws the whole
        // batch from one seed
        const uint64_t seed = req.rng == "cuda" ? req.seed + static_cast<uint64_t>(i) : req.seed;
        std::string text =
            lorastack::with_model_hash(lorastack::image_parameters(result.parameters, seed, i, n), options_.model_hash);
        lorastack::write_png(path, result.images[static_cast<size_t>(i)], text);
        files.push_back(path);
        seeds.push_back(seed);
        texts.push_back(std::move(text));
      }
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t i = 0; i < files.size(); ++i) {
        job->state.images.push_back(files[i]);
        job->state.seeds.push_back(seeds[i]);
        job->state.infotexts.push_back(texts[i]);
      }
      job->state.generate_seconds += seconds;
      bump(*job);
    }
    finish(job, JobStatus::Done, "", 0);
  } catch (const JobCancelled&) {
    finish(job, JobStatus::Cancelled, "cancelled while running", 409);
  } catch (const ls::Error& e) {
    finish(job, JobStatus::Error, e.what(), 422);
  } catch (const std::exception& e) {
    finish(job, JobStatus::Error, e.what(), 500);
  }
}

}  // namespace ls::server
