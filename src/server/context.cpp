#include "server/context.h"

#include <fstream>
#include <sstream>

#include "server/base64.h"

namespace ls::server {

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& field, const std::string& message) {
  const char* type = status == 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error";
  nlohmann::json err = {{"message", message},
                        {"type", type},
                        {"param", field.empty() ? nlohmann::json(nullptr) : nlohmann::json(field)},
                        {"code", status}};
  if (status == 429) res.set_header("Retry-After", "1");
  send_json(res, status, {{"error", err}, {"detail", message}});
}

std::string base_url(const httplib::Request& req, const ServerContext& ctx) {
  std::string host = req.get_header_value("Host");
  if (host.empty() || host.find_first_of("/ \t\r\n") != std::string::npos)
    host = ctx.options.host + ":" + std::to_string(req.local_port);
  return "http://" + host;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) api_fail(404, "", "image file is gone (the job was forgotten)");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

nlohmann::json job_json(const Job& job, const JobView& v, bool b64) {
  nlohmann::json j = {{"id", job.id},
                      {"object", "job"},
                      {"api", job.spec.api},
                      {"status", status_name(v.status)},
                      {"progress",
                       {{"step", v.step},
                        {"total", v.total},
                        {"fraction", v.total > 0 ? static_cast<double>(v.step) / v.total : 0.0}}},
                      {"parameters", job.spec.parameters},
                      {"created_at", v.created},
                      {"started_at", v.started > 0 ? nlohmann::json(v.started) : nlohmann::json(nullptr)},
                      {"finished_at", v.finished > 0 ? nlohmann::json(v.finished) : nlohmann::json(nullptr)},
                      {"events_url", "/v1/jobs/" + job.id + "/events"}};
  if (v.status == JobStatus::Queued) j["position"] = v.position;
  if (v.started > 0 && v.finished > 0) j["seconds"] = v.finished - v.started;
  j["timings"] = {{"lora_switch", v.lora_switched}, {"lora_seconds", v.lora_seconds},
                  {"generate_seconds", v.generate_seconds}};
  j["error"] = v.error.empty() ? nlohmann::json(nullptr) : nlohmann::json{{"message", v.error}, {"code", v.error_status}};
  auto images = nlohmann::json::array();
  for (size_t i = 0; i < v.images.size(); ++i) {
    nlohmann::json im = {{"index", i},
                         {"url", "/v1/jobs/" + job.id + "/images/" + std::to_string(i) + ".png"},
                         {"seed", v.seeds[i]},
                         {"infotext", v.infotexts[i]}};
    if (b64) {
      try {
        im["b64_png"] = base64_encode(read_file(v.images[i]));
      } catch (const ApiError&) {
        im["b64_png"] = nullptr;
      }
    }
    images.push_back(std::move(im));
  }
  j["images"] = std::move(images);
  return j;
}

JobView run_sync(ServerContext& ctx, JobSpec spec, std::shared_ptr<Job>* job_out) {
  auto job = ctx.queue->submit(std::move(spec));
  if (job_out) *job_out = job;
  JobView v = ctx.queue->wait_finished(*job);
  if (v.status == JobStatus::Done) return v;
  if (!finished(v.status)) api_fail(503, "", "the server is shutting down");
  api_fail(v.error_status ? v.error_status : 500, "", "job {} {}: {}", job->id, status_name(v.status), v.error);
}

}  // namespace ls::server
