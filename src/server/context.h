// What every route of the server shares: the options, the resident Engine's description, the LoRA folder and
// the job queue; plus the helpers routes use to answer (JSON bodies, the common error body, job JSON).
#pragma once

#include <memory>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "runtime/error.h"
#include "server/api_error.h"
#include "server/job_queue.h"
#include "server/lora_library.h"
#include "server/request_parse.h"
#include "server/server.h"

namespace ls::server {

struct ServerContext {
  ServerOptions options;
  std::unique_ptr<lorastack::Engine> engine;
  std::string model_name;   ///< file stem of the model
  std::string model_sha256; ///< SHA-256 of a single-file model (pipeline/parameters.h); "" for a diffusers folder
  std::string description;  ///< Engine::describe()
  int size_multiple = 64;
  std::unique_ptr<LoraLibrary> loras;
  std::unique_ptr<JobQueue> queue;
  std::string output_dir;
  double started = 0;  ///< Unix seconds
  ParseContext parse_context() { return {*loras, size_multiple}; }
};

/// Serialize (invalid UTF-8 replaced, never throws on strings).
std::string dump(const nlohmann::json& j);
void send_json(httplib::Response& res, int status, const nlohmann::json& j);
/// The common error body (api_error.h). 429 also sets Retry-After.
void send_error(httplib::Response& res, int status, const std::string& field, const std::string& message);

/// Wrap a route: ApiError → its status; ls::Error → 422; other exceptions → 500; all with the error body.
template <typename F>
httplib::Server::Handler guarded(F f) {
  return [f](const httplib::Request& req, httplib::Response& res) {
    try {
      f(req, res);
    } catch (const ApiError& e) {
      send_error(res, e.status(), e.field(), e.what());
    } catch (const ls::Error& e) {
      send_error(res, 422, "", e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, "", e.what());
    }
  };
}

/// "http://<Host header>" (for absolute image URLs).
std::string base_url(const httplib::Request& req, const ServerContext& ctx);
/// The job as GET /v1/jobs/{id} shows it; `b64` adds each image's PNG as base64.
nlohmann::json job_json(const Job& job, const JobView& v, bool b64);
/// Read a whole file (throws ApiError 404 when it is gone).
std::string read_file(const std::string& path);
/// Submit a parsed job and wait for it (the synchronous A1111 / OpenAI routes). Returns the final view; throws
/// ApiError with the job's status when it did not finish with images.
JobView run_sync(ServerContext& ctx, JobSpec spec, std::shared_ptr<Job>* job_out = nullptr);

void add_native_routes(httplib::Server& svr, ServerContext& ctx);
void add_a1111_routes(httplib::Server& svr, ServerContext& ctx);
void add_openai_routes(httplib::Server& svr, ServerContext& ctx);
void add_web_routes(httplib::Server& svr, ServerContext& ctx);

}  // namespace ls::server
