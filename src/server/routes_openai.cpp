// OpenAI's image API (POST /v1/images/generations, https://platform.openai.com/docs/api-reference/images/create)
// as the official SDKs call it, plus GET /v1/models. Answers synchronously: {created, data: [{b64_json} | {url}]}.
// LoRAs come through the extension field "loras": [{name, strength, te_strength}] (or <lora:…> tags in the prompt).
#include <chrono>

#include "server/base64.h"
#include "server/context.h"
#include "server/json_fields.h"

namespace ls::server {

void add_openai_routes(httplib::Server& svr, ServerContext& ctx) {
  svr.Post("/v1/images/generations", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto pc = ctx.parse_context();
    std::string format;
    JobSpec spec = parse_openai(parse_json_object(req.body), pc, format);
    std::shared_ptr<Job> job;
    JobView v = run_sync(ctx, spec, &job);
    auto data = nlohmann::json::array();
    for (size_t i = 0; i < v.images.size(); ++i) {
      if (format == "b64_json")
        data.push_back({{"b64_json", base64_encode(read_file(v.images[i]))}, {"revised_prompt", job->spec.request.prompt}});
      else
        data.push_back({{"url", base_url(req, ctx) + "/v1/jobs/" + job->id + "/images/" + std::to_string(i) + ".png"},
                        {"revised_prompt", job->spec.request.prompt}});
    }
    send_json(res, 200,
              {{"created", static_cast<int64_t>(v.created)},
               {"data", data},
               {"output_format", "png"},
               {"size", std::to_string(spec.request.width) + "x" + std::to_string(spec.request.height)},
               {"lorastack", {{"job_id", job->id}, {"parameters", job->spec.parameters}, {"infotexts", v.infotexts}}}});
  }));

  svr.Get("/v1/models", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200,
              {{"object", "list"},
               {"data", nlohmann::json::array({{{"id", ctx.model_name},
                                                {"object", "model"},
                                                {"created", static_cast<int64_t>(ctx.started)},
                                                {"owned_by", "lorastack"}}})}});
  }));
}

}  // namespace ls::server
