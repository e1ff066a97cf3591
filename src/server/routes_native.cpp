// The native async API: POST /v1/jobs → {id}; GET /v1/jobs/{id}; DELETE /v1/jobs/{id};
// GET /v1/jobs/{id}/events (server-sent events); GET /v1/jobs/{id}/images/{k}.png; GET /v1/server.
#include <chrono>

#include "pipeline/parameters.h"
#include "server/context.h"
#include "server/json_fields.h"

namespace ls::server {

namespace {

std::shared_ptr<Job> job_or_404(ServerContext& ctx, const std::string& id) {
  auto job = ctx.queue->find(id);
  if (!job) api_fail(404, "id", "job '{}': no such job (unknown, or forgotten after {} newer jobs finished)",
                     id.substr(0, 64), ctx.options.keep_jobs);
  return job;
}

std::string sse_event(const char* name, const nlohmann::json& data) {
  return std::string("event: ") + name + "\ndata: " + dump(data) + "\n\n";
}

/// The state of one event stream between calls of httplib's content provider.
struct EventStream {
  std::shared_ptr<Job> job;
  uint64_t seen = UINT64_MAX;
  JobStatus status = JobStatus::Queued;
  int step = -1;
  bool done = false;
};

}  // namespace

void add_native_routes(httplib::Server& svr, ServerContext& ctx) {
  svr.Post("/v1/jobs", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto pc = ctx.parse_context();
    auto spec = parse_native(parse_json_object(req.body), pc);
    auto job = ctx.queue->submit(std::move(spec));
    auto v = ctx.queue->view(*job);
    res.set_header("Location", "/v1/jobs/" + job->id);
    send_json(res, 202,
              {{"id", job->id},
               {"status", status_name(v.status)},
               {"position", v.position},
               {"url", "/v1/jobs/" + job->id},
               {"events_url", "/v1/jobs/" + job->id + "/events"},
               {"parameters", job->spec.parameters}});
  }));

  svr.Get("/v1/jobs/([^/]+)", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto job = job_or_404(ctx, req.matches[1]);
    const std::string images = req.get_param_value("images");
    if (!images.empty() && images != "b64" && images != "url")
      api_fail(422, "images", "images '{}': expected b64 or url", images.substr(0, 32));
    send_json(res, 200, job_json(*job, ctx.queue->view(*job), images == "b64"));
  }));

  svr.Delete("/v1/jobs/([^/]+)", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    switch (ctx.queue->cancel(id)) {
      case JobQueue::CancelResult::NotFound: job_or_404(ctx, id); break;
      case JobQueue::CancelResult::Removed: send_json(res, 200, {{"id", id}, {"status", "cancelled"}}); break;
      case JobQueue::CancelResult::Cancelling: send_json(res, 202, {{"id", id}, {"status", "cancelling"}}); break;
      case JobQueue::CancelResult::Forgotten: send_json(res, 200, {{"id", id}, {"status", "deleted"}}); break;
    }
  }));

  svr.Get("/v1/jobs/([^/]+)/images/([0-9]{1,4})\\.png",
          guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
            auto job = job_or_404(ctx, req.matches[1]);
            auto v = ctx.queue->view(*job);
            const size_t k = std::stoul(req.matches[2]);
            if (k >= v.images.size())
              api_fail(404, "", "job {} has {} image(s) so far (status {}); no image {}", job->id, v.images.size(),
                       status_name(v.status), k);
            res.status = 200;
            res.set_content(read_file(v.images[k]), "image/png");
          }));

  svr.Get("/v1/jobs/([^/]+)/events", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto stream = std::make_shared<EventStream>();
    stream->job = job_or_404(ctx, req.matches[1]);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider("text/event-stream", [&ctx, stream](size_t, httplib::DataSink& sink) {
      if (stream->done) {
        sink.done();
        return true;
      }
      const Job& job = *stream->job;
      if (stream->seen != UINT64_MAX) ctx.queue->wait_change(job, stream->seen, std::chrono::seconds(15));
      JobView v = ctx.queue->view(job);
      std::string out;
      if (stream->seen == UINT64_MAX || v.status != stream->status)
      {
        nlohmann::json st = {{"id", job.id}, {"status", status_name(v.status)}};
        if (v.status == JobStatus::Queued) st["position"] = v.position;
        out += sse_event("status", st);
      }
      if (v.total > 0 && v.step != stream->step && v.step > 0)
        out += sse_event("progress", {{"step", v.step},
                                      {"total", v.total},
                                      {"fraction", static_cast<double>(v.step) / v.total}});
      if (finished(v.status)) {
        const char* name = v.status == JobStatus::Done ? "done" : v.status == JobStatus::Error ? "error" : "cancelled";
        out += sse_event(name, job_json(job, v, false));
        stream->done = true;
      } else if (ctx.queue->stopping()) {
        out += sse_event("error", {{"message", "the server is shutting down"}, {"code", 503}});
        stream->done = true;
      } else if (out.empty()) {
        out = ": keep-alive\n\n";
      }
      stream->seen = v.version;
      stream->status = v.status;
      stream->step = v.step;
      if (!sink.write(out.data(), out.size())) return false;
      if (stream->done) sink.done();
      return true;
    });
  }));

  svr.Get("/v1/jobs", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    auto s = ctx.queue->stats();
    send_json(res, 200, {{"queued", s.queued}, {"running", s.running_id.empty() ? nlohmann::json(nullptr)
                                                                               : nlohmann::json(s.running_id)}});
  }));

  svr.Get("/v1/server", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    auto s = ctx.queue->stats();
    auto active = nlohmann::json::array();
    for (const auto& l : s.active_stack)
      active.push_back({{"name", l.name}, {"strength", l.strength}, {"te_strength", l.te_strength}});
    send_json(res, 200,
              {{"name", "lorastack"},
               {"version", lorastack::version()},
               {"model", {{"name", ctx.model_name}, {"description", ctx.description}, {"size_multiple", ctx.size_multiple},
                          {"device", ctx.options.model.device}}},
               {"lora_dir", ctx.loras->root()},
               {"queue",
                {{"queued", s.queued},
                 {"running", s.running},
                 {"capacity", s.capacity},
                 {"running_job", s.running_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.running_id)},
                 {"step", s.running_step},
                 {"total", s.running_total},
                 {"done", s.done},
                 {"failed", s.failed},
                 {"cancelled", s.cancelled},
                 {"lora_switches", s.lora_switches}}},
               {"active_loras", active},
               {"limits",
                {{"steps", kMaxSteps}, {"max_side", kMaxSide}, {"batch_size", kMaxBatch}, {"n_iter", kMaxIter},
                 {"images_per_job", kMaxImagesPerJob}, {"cfg_scale", kMaxCfg}, {"loras", kMaxLoras},
                 {"strength", kMaxStrength}}},
               {"rss_bytes", resident_bytes()},
               {"uptime_s", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
                                ctx.started}});
  }));

  svr.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, 200, {{"status", "ok"}}); });
}

}  // namespace ls::server
