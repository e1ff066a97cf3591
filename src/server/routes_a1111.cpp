// The A1111 web UI API subset clients use (modules/api/api.py of stable-diffusion-webui as the reference for
// paths and shapes): txt2img and img2img answer synchronously with base64 PNGs, "parameters" (the request
// echoed) and "info" (a JSON *string*, as A1111 sends it, with infotexts and seeds).
#include <ctime>
#include <filesystem>

#include "pipeline/parameters.h"
#include "server/base64.h"
#include "server/context.h"
#include "server/json_fields.h"
#include "server/samplers.h"

namespace ls::server {

namespace {

std::string job_timestamp(double unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

nlohmann::json txt2img_info(const ServerContext& ctx, const Job& job, const JobView& v) {
  const auto& r = job.spec.request;
  std::vector<std::string> prompts(v.images.size(), r.prompt), negatives(v.images.size(), r.negative_prompt);
  std::vector<int64_t> subseeds(v.images.size(), -1);
  return {{"prompt", r.prompt},
          {"all_prompts", prompts},
          {"negative_prompt", r.negative_prompt},
          {"all_negative_prompts", negatives},
          {"seed", r.seed},
          {"all_seeds", v.seeds},
          {"subseed", -1},
          {"all_subseeds", subseeds},
          {"subseed_strength", 0},
          {"width", r.width},
          {"height", r.height},
          {"sampler_name", a1111_name({r.sampler, r.scheduler})},
          {"cfg_scale", r.cfg_scale},
          {"steps", r.steps},
          {"batch_size", r.batch_size},
          {"restore_faces", false},
          {"face_restoration_model", nullptr},
          {"sd_model_name", ctx.model_name},
          {"sd_model_hash", ctx.model_sha256.empty() ? nlohmann::json(nullptr)
                                                     : nlohmann::json(ctx.model_sha256.substr(0, 10))},
          {"sd_vae_name", nullptr},
          {"sd_vae_hash", nullptr},
          {"seed_resize_from_w", -1},
          {"seed_resize_from_h", -1},
          {"denoising_strength", job.spec.init_image_bytes.empty() ? nlohmann::json(nullptr)
                                                                    : nlohmann::json(job.spec.parameters["strength"])},
          {"extra_generation_params", nlohmann::json::object()},
          {"index_of_first_image", 0},
          {"infotexts", v.infotexts},
          {"styles", nlohmann::json::array()},
          {"job_timestamp", job_timestamp(v.created)},
          {"clip_skip", r.clip_skip},
          {"is_using_inpainting_conditioning", false},
          {"version", "lorastack " + lorastack::version()},
          {"job_id", job.id}};
}

}  // namespace

void add_a1111_routes(httplib::Server& svr, ServerContext& ctx) {
  for (const bool img2img : {false, true}) {
    svr.Post(img2img ? "/sdapi/v1/img2img" : "/sdapi/v1/txt2img",
             guarded([&ctx, img2img](const httplib::Request& req, httplib::Response& res) {
               auto body = parse_json_object(req.body);
               auto pc = ctx.parse_context();
               JobSpec spec = parse_a1111(body, pc, img2img);
               const bool send_images = !body.contains("send_images") || body["send_images"] != false;
               std::shared_ptr<Job> job;
               JobView v = run_sync(ctx, spec, &job);
               auto images = nlohmann::json::array();
               if (send_images)
                 for (const auto& f : v.images) images.push_back(base64_encode(read_file(f)));
               // "parameters": the request as sent, with what was used for the fields it left out (images not echoed)
               nlohmann::json params = body;
               params.erase("init_images");
               params.erase("mask");
               const auto& p = job->spec.parameters;
               for (const char* k : {"prompt", "negative_prompt", "steps", "cfg_scale", "seed", "width", "height",
                                     "batch_size", "n_iter", "sampler_name"})
                 if (!params.contains(k) || params[k].is_null()) params[k] = p[k];
               if (img2img && (!params.contains("denoising_strength") || params["denoising_strength"].is_null()))
                 params["denoising_strength"] = p["strength"];
               send_json(res, 200, {{"images", images}, {"parameters", params}, {"info", dump(txt2img_info(ctx, *job, v))}});
             }));
  }

  svr.Get("/sdapi/v1/loras", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    auto out = nlohmann::json::array();
    for (const auto& l : ctx.loras->list())
      out.push_back({{"name", l.entry.name},
                     {"alias", l.alias},
                     {"path", l.entry.path},
                     {"rel_path", l.entry.rel_path},
                     {"size", l.entry.size},
                     {"metadata", l.metadata},
                     {"trigger_words", l.trigger_words},
                     {"error", l.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(l.error)}});
    send_json(res, 200, out);
  }));

  svr.Post("/sdapi/v1/refresh-loras", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    ctx.loras->list(true);
    send_json(res, 200, nullptr);
  }));

  svr.Get("/sdapi/v1/sd-models", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    const std::string& sha = ctx.model_sha256;  // A1111: "hash" = sha256[0:10] (CheckpointInfo.shorthash)
    send_json(res, 200, nlohmann::json::array({{{"title", ctx.model_name},
                                                {"model_name", ctx.model_name},
                                                {"hash", sha.empty() ? nlohmann::json(nullptr)
                                                                     : nlohmann::json(sha.substr(0, 10))},
                                                {"sha256", sha.empty() ? nlohmann::json(nullptr) : nlohmann::json(sha)},
                                                {"filename", ctx.options.model.model},
                                                {"config", ctx.options.model.config_yaml.empty()
                                                               ? nlohmann::json(nullptr)
                                                               : nlohmann::json(ctx.options.model.config_yaml)}}}));
  }));

  svr.Get("/sdapi/v1/samplers", guarded([](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, a1111_samplers());
  }));
  svr.Get("/sdapi/v1/schedulers", guarded([](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, a1111_schedulers());
  }));

  svr.Get("/sdapi/v1/options", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, {{"sd_model_checkpoint", ctx.model_name}, {"CLIP_stop_at_last_layers", 1},
                         {"samples_format", "png"}});
  }));

  svr.Get("/sdapi/v1/progress", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    auto s = ctx.queue->stats();
    const double progress = s.running_total > 0 ? static_cast<double>(s.running_step) / s.running_total : 0.0;
    send_json(res, 200,
              {{"progress", progress},
               {"eta_relative", 0.0},
               {"state",
                {{"skipped", false},
                 {"interrupted", false},
                 {"job", s.running_id},
                 {"job_count", s.queued + s.running},
                 {"job_timestamp", "0"},
                 {"job_no", 0},
                 {"sampling_step", s.running_step},
                 {"sampling_steps", s.running_total}}},
               {"current_image", nullptr},
               {"textinfo", nullptr}});
  }));

  svr.Post("/sdapi/v1/interrupt", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    ctx.queue->interrupt();
    send_json(res, 200, nullptr);
  }));
}

}  // namespace ls::server
