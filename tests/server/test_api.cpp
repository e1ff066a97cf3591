// The HTTP API against a real server on 127.0.0.1 (an in-process ls::server::Server on a free port, the tiny model,
// a LoRA folder of refsuite adapters): every endpoint, bad requests (4xx with the field and value named), LoRA
// path escapes, 429 when the queue is full, cancel (queued and running; the Engine stays usable), server-sent
// events, and the A1111 "parameters" text chunk of every PNG.
#include <condition_variable>
#include <mutex>

#include "server/base64.h"
#include "server/job_queue.h"
#include "server/server.h"
#include "server_env.h"

namespace ls::server::testing {
namespace {

/// Holds the worker inside the progress callback while closed (ServerOptions::step_hook).
class Gate {
 public:
  /// Close, and count arrivals from zero again.
  void close() {
    std::lock_guard<std::mutex> l(m_);
    open_ = false;
    arrived_ = 0;
  }
  void open() {
    std::lock_guard<std::mutex> l(m_);
    open_ = true;
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock<std::mutex> l(m_);
    ++arrived_;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
  }
  /// Wait until the worker has reached the gate `n` times since close().
  bool wait_arrived(int n) {
    std::unique_lock<std::mutex> l(m_);
    return cv_.wait_for(l, std::chrono::seconds(60), [&] { return arrived_ >= n; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = true;
  int arrived_ = 0;
};

json small(json extra = json::object()) {
  json j = {{"prompt", "a photo of a cat"}, {"steps", 2}, {"width", 64}, {"height", 64}, {"seed", 7}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

class ServerApi : public ::testing::Test {
 protected:
  void start(int queue = 8) {
    const auto& env = TestEnv::get();
    ServerOptions o;
    o.model.model = env.model_dir;
    o.model.threads = 1;
    o.lora_dir = env.lora_dir;
    o.port = 0;
    o.queue = queue;
    o.keep_jobs = 50;
    o.step_hook = [g = gate_](const std::string&, int, int) { g->pass(); };
    server_ = std::make_unique<Server>(o);
    server_->start();
    http_ = std::make_unique<Http>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    gate_->open();
    if (server_) server_->stop();
  }
  Http& http() { return *http_; }

  /// Poll GET /v1/jobs/{id} until the job finished.
  json wait_job(const std::string& id) {
    for (int i = 0; i < 12000; ++i) {
      auto r = http().get("/v1/jobs/" + id);
      EXPECT_EQ(r.status, 200) << r.body;
      if (r.status != 200) return r.j;
      const std::string s = r.j["status"];
      if (s == "done" || s == "error" || s == "cancelled") return r.j;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " did not finish";
    return nullptr;
  }
  std::string submit(const json& body) {
    auto r = http().post("/v1/jobs", body);
    EXPECT_EQ(r.status, 202) << r.body;
    return r.j.value("id", "");
  }
  std::string png(const std::string& id, int k = 0) {
    auto r = http().get("/v1/jobs/" + id + "/images/" + std::to_string(k) + ".png");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }
  json server_info() { return http().get("/v1/server").j; }

  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::unique_ptr<Server> server_;
  std::unique_ptr<Http> http_;
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- info, web page, routing ----

TEST_F(ServerApi, InfoHealthModelsAndWebPage) {
  start();
  auto info = server_info();
  EXPECT_EQ(info["model"]["size_multiple"], 64);
  EXPECT_EQ(info["model"]["name"], "model");
  EXPECT_TRUE(contains(info["model"]["description"], "SD1.x")) << info.dump();
  EXPECT_EQ(info["lora_dir"], fs::canonical(TestEnv::get().lora_dir).string());
  EXPECT_GT(info["rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(http().get("/health").j["status"], "ok");
  auto models = http().get("/v1/models");
  EXPECT_EQ(models.j["data"][0]["id"], "model");

  auto page = http().get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.headers["Content-Type"], "text/html; charset=utf-8");
  EXPECT_TRUE(contains(page.body, "<script src=\"/app.js\">"));
  auto js = http().get("/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_TRUE(contains(js.headers["Content-Type"], "javascript"));
  EXPECT_TRUE(contains(js.body, "EventSource"));
  EXPECT_EQ(http().get("/style.css").status, 200);

  auto missing = http().get("/nope.js");
  EXPECT_EQ(missing.status, 404);
  auto route = http().get("/v2/nothing");
  EXPECT_EQ(route.status, 404);
  EXPECT_TRUE(contains(route.message(), "no route GET /v2/nothing")) << route.body;
}

TEST_F(ServerApi, PortInUseIsAnError) {
  start();
  ServerOptions o;
  o.model.model = TestEnv::get().model_dir;
  o.port = server_->port();
  Server second(o);
  try {
    second.start();
    ADD_FAILURE() << "a second server bound port " << o.port;
  } catch (const std::exception& e) {
    EXPECT_TRUE(contains(e.what(), "cannot bind")) << e.what();
  }
  EXPECT_EQ(http().get("/health").status, 200);
}

// ---- native API ----

TEST_F(ServerApi, NativeJobRecordsParametersInPng) {
  start();
  const std::string id = submit(small({{"prompt", "a photo of a cat <lora:lora_a_kohya:0.7>"},
                                       {"negative_prompt", "blurry"},
                                       {"sampler", "DPM++ 2M Karras"},
                                       {"steps", 3},
                                       {"seed", 1234},
                                       {"loras", {{{"name", "sub/loha_c_lycoris"}, {"strength", 0.5}, {"te_strength", 0.25}}}}}));
  json job = wait_job(id);
  ASSERT_EQ(job["status"], "done") << job.dump();
  EXPECT_EQ(job["progress"]["step"], 3);
  EXPECT_EQ(job["progress"]["total"], 3);
  const auto& p = job["parameters"];
  EXPECT_EQ(p["sampler"], "dpm++2m");
  EXPECT_EQ(p["scheduler"], "karras");
  EXPECT_EQ(p["seed"], 1234);
  ASSERT_EQ(p["loras"].size(), 2u);
  EXPECT_EQ(p["loras"][0]["name"], "lora_a_kohya");
  EXPECT_EQ(p["loras"][0]["strength"], 0.7);
  EXPECT_EQ(p["loras"][1]["name"], "loha_c_lycoris");
  EXPECT_EQ(p["loras"][1]["path"], "sub/loha_c_lycoris.safetensors");
  EXPECT_EQ(p["loras"][1]["te_strength"], 0.25);
  ASSERT_EQ(job["images"].size(), 1u);
  EXPECT_EQ(job["images"][0]["url"], "/v1/jobs/" + id + "/images/0.png");

  ls::image::Image im;
  const std::string bytes = png(id);
  const std::string text = png_parameters(bytes, &im);
  EXPECT_EQ(im.width, 64);
  EXPECT_EQ(im.height, 64);
  EXPECT_TRUE(contains(text, "a photo of a cat <lora:lora_a_kohya:0.7> <lora:loha_c_lycoris:0.25:0.5>\n")) << text;
  EXPECT_TRUE(contains(text, "Negative prompt: blurry\n")) << text;
  EXPECT_TRUE(contains(text, "Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras")) << text;
  EXPECT_TRUE(contains(text, "Seed: 1234, Size: 64x64")) << text;
  EXPECT_TRUE(contains(text, "Lora hashes: \"lora_a_kohya: ")) << text;
  EXPECT_TRUE(contains(text, "loha_c_lycoris: ")) << text;
  EXPECT_EQ(job["images"][0]["infotext"], text);

  // the same image as base64 in the job JSON
  auto with_b64 = http().get("/v1/jobs/" + id + "?images=b64");
  EXPECT_EQ(base64_decode(with_b64.j["images"][0]["b64_png"].get<std::string>(), "b64"), bytes);
  EXPECT_EQ(http().get("/v1/jobs/" + id + "?images=jpeg").status, 422);
  EXPECT_EQ(http().get("/v1/jobs/" + id + "/images/1.png").status, 404);
  EXPECT_EQ(http().get("/v1/jobs/ffffffffffffffff").status, 404);
}

TEST_F(ServerApi, SwitchesStacksOnlyWhenTheyDifferAndKeepsTheBase) {
  start();
  const json a = small({{"loras", {{{"name", "lora_a_kohya"}, {"strength", 0.8}}}}});
  const json b = small({{"loras", {{{"name", "locon_b_kohya"}, {"strength", -0.6}}, {{"name", "lora_a_kohya"}}}}});
  const json base = small();
  std::vector<std::string> ids;
  for (const json& body : {a, a, b, a, base, base})
    ids.push_back(submit(body));
  std::vector<json> jobs;
  for (auto& id : ids) {
    jobs.push_back(wait_job(id));
    ASSERT_EQ(jobs.back()["status"], "done") << jobs.back().dump();
  }
  // a (switch), a (same stack: none), b (switch), a (switch), base (switch to empty), base (none)
  const std::vector<bool> switched{true, false, true, true, true, false};
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(jobs[i]["timings"]["lora_switch"], switched[i]) << i;
  EXPECT_EQ(server_info()["queue"]["lora_switches"], 4);
  // same request, same image: switching stacks leaves the base weights untouched
  EXPECT_EQ(png(ids[0]), png(ids[1]));
  EXPECT_EQ(png(ids[0]), png(ids[3]));
  EXPECT_EQ(png(ids[4]), png(ids[5]));
  EXPECT_NE(png(ids[0]), png(ids[2]));
  EXPECT_NE(png(ids[0]), png(ids[4]));
}

TEST_F(ServerApi, BatchAndIterationsGiveOneImageEach) {
  start();
  json job = wait_job(submit(small({{"batch_size", 2}, {"n_iter", 2}, {"seed", 100}})));
  ASSERT_EQ(job["status"], "done");
  ASSERT_EQ(job["images"].size(), 4u);
  // iteration k uses seed + k·batch_size (A1111's all_seeds advance by one per image)
  EXPECT_EQ(job["images"][0]["seed"], 100);
  EXPECT_EQ(job["images"][1]["seed"], 100);
  EXPECT_EQ(job["images"][2]["seed"], 102);
  EXPECT_EQ(job["progress"]["total"], 4);
  EXPECT_TRUE(contains(png_parameters(png(job["id"], 3)), "Seed: 102, Size: 64x64")) ;
}

TEST_F(ServerApi, CurlStyleFormLabelledJsonBodiesOverEightKiB) {
  // `curl -d '{...}'` sends application/x-www-form-urlencoded; Debian's cpp-httplib refuses such bodies over 8 KiB
  // unless the server relabels them (server.cpp pre-routing handler)
  start();
  json body = small({{"prompt", std::string(12000, 'a')}});
  auto r = http().client().Post("/sdapi/v1/txt2img", body.dump(), "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body.substr(0, 200);
}

TEST_F(ServerApi, RandomSeedIsReported) {
  start();
  json job = wait_job(submit(small({{"seed", -1}})));
  const uint64_t seed = job["parameters"]["seed"];
  EXPECT_TRUE(contains(png_parameters(png(job["id"])), "Seed: " + std::to_string(seed) + ","));
}

// ---- events ----

/// Read an SSE stream to its end; `on_data` sees the text so far after each chunk.
std::string read_events(Http& http, const std::string& path, const std::function<void(const std::string&)>& on_data = {}) {
  std::string all;
  auto c = http.client();
  auto r = c.Get(path.c_str(), [&](const char* data, size_t n) {
    all.append(data, n);
    if (on_data) on_data(all);
    return true;
  });
  EXPECT_TRUE(r) << "events request failed";
  if (r) {
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  }
  return all;
}

TEST_F(ServerApi, EventsStreamProgressThenDone) {
  start();
  gate_->close();
  const std::string id = submit(small({{"steps", 3}}));
  ASSERT_TRUE(gate_->wait_arrived(1));  // running, held after step 1
  std::string text = read_events(http(), "/v1/jobs/" + id + "/events", [&](const std::string& so_far) {
    if (contains(so_far, "\"step\":1")) gate_->open();
  });
  EXPECT_TRUE(contains(text, "event: status\ndata: {\"id\":\"" + id + "\",\"status\":\"running\"}")) << text;
  EXPECT_TRUE(contains(text, "event: progress\ndata: {\"fraction\":0.3333333333333333,\"step\":1,\"total\":3}")) << text;
  EXPECT_TRUE(contains(text, "\"step\":3,\"total\":3}")) << text;
  auto done = text.find("event: done\ndata: ");
  ASSERT_NE(done, std::string::npos) << text;
  json final = json::parse(text.substr(done + 18, text.find('\n', done + 18) - done - 18));
  EXPECT_EQ(final["status"], "done");
  EXPECT_EQ(final["images"].size(), 1u);
  // a finished job's stream: its status and the final event at once
  std::string again = read_events(http(), "/v1/jobs/" + id + "/events");
  EXPECT_TRUE(contains(again, "event: done")) << again;
  EXPECT_EQ(http().get("/v1/jobs/nothing/events").status, 404);
}

// ---- cancel, queue limit ----

TEST_F(ServerApi, CancelQueuedAndRunningJobsEngineStaysUsable) {
  start();
  const json body = small({{"steps", 4}, {"loras", {{{"name", "lora_a_kohya"}, {"strength", 0.5}}}}});
  json reference = wait_job(submit(body));
  ASSERT_EQ(reference["status"], "done");
  const std::string reference_png = png(reference["id"]);

  gate_->close();
  const std::string running = submit(body);
  ASSERT_TRUE(gate_->wait_arrived(1));
  const std::string queued = submit(small());
  EXPECT_EQ(http().get("/v1/jobs/" + queued).j["position"], 1);
  auto r1 = http().del("/v1/jobs/" + queued);
  EXPECT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(r1.j["status"], "cancelled");
  EXPECT_EQ(http().get("/v1/jobs/" + queued).j["status"], "cancelled");
  auto r2 = http().del("/v1/jobs/" + running);
  EXPECT_EQ(r2.status, 202) << r2.body;
  EXPECT_EQ(r2.j["status"], "cancelling");
  gate_->open();
  json cancelled = wait_job(running);
  EXPECT_EQ(cancelled["status"], "cancelled");
  EXPECT_EQ(cancelled["progress"]["step"], 1);
  EXPECT_EQ(cancelled["images"].size(), 0u);

  // the Engine threw out of generate() mid-sampling and is still whole: same request, same image
  json after = wait_job(submit(body));
  ASSERT_EQ(after["status"], "done");
  EXPECT_EQ(png(after["id"]), reference_png);
  // DELETE of a finished job forgets it
  EXPECT_EQ(http().del("/v1/jobs/" + after["id"].get<std::string>()).j["status"], "deleted");
  EXPECT_EQ(http().get("/v1/jobs/" + after["id"].get<std::string>()).status, 404);
  EXPECT_EQ(http().del("/v1/jobs/ffff").status, 404);
  auto counters = server_info()["queue"];
  EXPECT_EQ(counters["cancelled"], 2);
}

TEST_F(ServerApi, QueueFullAnswers429) {
  start(/*queue=*/2);
  gate_->close();
  const std::string running = submit(small());
  ASSERT_TRUE(gate_->wait_arrived(1));
  const std::string q1 = submit(small());
  const std::string q2 = submit(small());
  auto full = http().post("/v1/jobs", small());
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_TRUE(contains(full.message(), "queue full: 2 jobs waiting")) << full.body;
  EXPECT_EQ(full.headers["Retry-After"], "1");
  EXPECT_EQ(full.j["error"]["type"], "rate_limit_error");
  // the synchronous APIs share the queue
  EXPECT_EQ(http().post("/sdapi/v1/txt2img", small()).status, 429);
  EXPECT_EQ(http().post("/v1/images/generations", json{{"prompt", "x"}, {"size", "64x64"}}).status, 429);
  gate_->open();
  for (const auto& id : {running, q1, q2}) EXPECT_EQ(wait_job(id)["status"], "done");
  EXPECT_EQ(http().post("/v1/jobs", small()).status, 202);
}

TEST_F(ServerApi, InterruptAndProgressLikeA1111) {
  start();
  gate_->close();
  const std::string id = submit(small({{"steps", 5}}));
  ASSERT_TRUE(gate_->wait_arrived(1));
  auto progress = http().get("/sdapi/v1/progress");
  EXPECT_EQ(progress.status, 200);
  EXPECT_EQ(progress.j["state"]["sampling_step"], 1);
  EXPECT_EQ(progress.j["state"]["sampling_steps"], 5);
  EXPECT_DOUBLE_EQ(progress.j["progress"].get<double>(), 0.2);
  EXPECT_EQ(http().post("/sdapi/v1/interrupt", std::string("")).status, 200);
  gate_->open();
  EXPECT_EQ(wait_job(id)["status"], "cancelled");
}

TEST_F(ServerApi, StopWithRunningJobAndOpenStream) {
  start();
  gate_->close();
  const std::string id = submit(small({{"steps", 5}}));
  ASSERT_TRUE(gate_->wait_arrived(1));
  std::string text;
  std::atomic<bool> connected{false};
  std::thread reader([&] {
    text = read_events(http(), "/v1/jobs/" + id + "/events", [&](const std::string&) { connected = true; });
  });
  for (int i = 0; i < 3000 && !connected; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(connected) << "the event stream never started";
  const auto t0 = std::chrono::steady_clock::now();
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gate_->open();
  });
  server_->stop();
  opener.join();
  reader.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  EXPECT_TRUE(contains(text, "event: cancelled") || contains(text, "event: error")) << text;
}

// ---- bad requests ----

struct Bad {
  const char* name;
  std::string body;
  int status;
  std::string param;
  std::string message;
};
void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

std::vector<Bad> bad_native() {
  auto s = [](json extra) { return small(std::move(extra)).dump(); };
  return {
      {"not_json", "{\"prompt\": ", 400, "", "not valid JSON"},
      {"empty", "", 400, "", "empty request body"},
      {"array", "[1,2]", 400, "", "must be a JSON object, got an array"},
      {"unknown_field", s({{"stpes", 20}}), 400, "stpes", "unknown field 'stpes'"},
      {"steps_zero", s({{"steps", 0}}), 422, "steps", "steps 0: must be in 1..150"},
      {"steps_big", s({{"steps", 151}}), 422, "steps", "steps 151: must be in 1..150"},
      {"steps_string", s({{"steps", "20"}}), 400, "steps", "steps: expected an integer, got a string \"20\""},
      {"steps_fraction", s({{"steps", 2.5}}), 400, "steps", "steps: expected an integer, got 2.5"},
      {"width_65", s({{"width", 65}}), 422, "width", "width 65: must be a multiple of 64 for this model, in 64..2048"},
      {"width_4096", s({{"width", 4096}}), 422, "width", "width 4096: must be a multiple of 64"},
      {"height_0", s({{"height", 0}}), 422, "height", "height 0: must be a multiple of 64"},
      {"height_text", s({{"height", "big"}}), 400, "height", "height: expected an integer, got a string \"big\""},
      {"sampler", s({{"sampler", "NoSuchSampler"}}), 422, "sampler", "sampler 'NoSuchSampler': unknown sampler"},
      {"scheduler", s({{"scheduler", "bogus"}}), 422, "scheduler", "scheduler 'bogus': unknown schedule"},
      {"sampler_karras", s({{"sampler", "DPM++ 2M Karras"}, {"scheduler", "trailing"}}), 422, "scheduler", "scheduler 'trailing' contradicts sampler 'DPM++ 2M Karras'"},
      {"seed_negative", s({{"seed", -2}}), 422, "seed", "seed -2: must be -1 (random)"},
      {"seed_text", s({{"seed", "7"}}), 400, "seed", "seed: expected an integer seed"},
      {"cfg", s({{"cfg_scale", 31}}), 422, "cfg_scale", "cfg_scale 31: must be in 0..30"},
      {"cfg_text", s({{"cfg_scale", "7"}}), 400, "cfg_scale", "cfg_scale: expected a number"},
      {"batch", s({{"batch_size", 9}}), 422, "batch_size", "batch_size 9: must be in 1..8"},
      {"n_iter", s({{"n_iter", 17}}), 422, "n_iter", "n_iter 17: must be in 1..16"},
      {"images", s({{"batch_size", 4}, {"n_iter", 5}}), 422, "batch_size", "= 20 images, more than the limit of 16"},
      {"clip_skip", s({{"clip_skip", 13}}), 422, "clip_skip", "clip_skip 13: must be in 1..12"},
      {"prompt_type", s({{"prompt", 5}}), 400, "prompt", "prompt: expected a string, got a number 5"},
      {"prompt_huge", s({{"prompt", std::string(70000, 'a')}}), 422, "prompt", "prompt: 70000 bytes, longer than the limit of 65536"},
      {"loras_type", s({{"loras", "lora_a_kohya"}}), 400, "loras", "loras: expected an array"},
      {"lora_item_type", s({{"loras", {5}}}), 400, "loras[0]", "loras[0]: expected an object"},
      {"lora_no_name", s({{"loras", {{{"strength", 1}}}}}), 422, "loras[0].name", "loras[0]: missing name (or path)"},
      {"lora_both", s({{"loras", {{{"name", "a"}, {"path", "b"}}}}}), 422, "loras[0]", "give either name or path"},
      {"lora_strength", s({{"loras", {{{"name", "lora_a_kohya"}, {"strength", 11}}}}}), 422, "loras[0].strength", "loras[0].strength 11: must be in -10..10"},
      {"lora_field", s({{"loras", {{{"name", "lora_a_kohya"}, {"multiplier", 1}}}}}), 400, "loras[0].multiplier", "unknown field 'loras[0].multiplier'"},
      {"lora_unknown", s({{"loras", {{{"name", "nothing_here"}}}}}), 422, "loras[0].name", "loras[0].name 'nothing_here': no such LoRA in the LoRA folder"},
      {"lora_block_weights", s({{"loras", {{{"name", "lora_a_kohya"}, {"block_weights", "BOGUS"}}}}}), 422, "loras[0].block_weights", "loras[0].block_weights: "},
      {"tag_weight", s({{"prompt", "a cat <lora:lora_a_kohya:abc>"}}), 422, "prompt", "prompt: "},
      {"tag_unknown", s({{"prompt", "a cat <lora:nothing_here:0.5>"}}), 422, "prompt", "prompt 'nothing_here': no such LoRA"},
      {"tag_strength", s({{"prompt", "a cat <lora:lora_a_kohya:50>"}}), 422, "prompt", "strength 50 must be within ±10"},
      {"too_many_loras", s({{"loras", json::array({"lora_a_kohya", "lora_a_kohya", "lora_a_kohya", "lora_a_kohya",
                                                   "lora_a_kohya", "lora_a_kohya", "lora_a_kohya", "lora_a_kohya",
                                                   "lora_a_kohya", "lora_a_kohya", "lora_a_kohya", "lora_a_kohya",
                                                   "lora_a_kohya", "lora_a_kohya", "lora_a_kohya", "lora_a_kohya",
                                                   "lora_a_kohya"})}}), 422, "loras", "loras: 17 adapters, more than the limit of 16"},
  };
}

class NativeBadRequest : public ServerApi, public ::testing::WithParamInterface<Bad> {};

TEST_P(NativeBadRequest, AnswersWithFieldAndValue) {
  start();
  const Bad& b = GetParam();
  auto r = http().post("/v1/jobs", b.body);
  EXPECT_EQ(r.status, b.status) << r.body;
  EXPECT_TRUE(contains(r.message(), b.message)) << r.body;
  EXPECT_EQ(r.param(), b.param) << r.body;
  EXPECT_EQ(r.j["detail"], r.message());  // the A1111 / FastAPI spelling carries the same message
  EXPECT_EQ(server_info()["queue"]["queued"], 0);
}
INSTANTIATE_TEST_SUITE_P(All, NativeBadRequest, ::testing::ValuesIn(bad_native()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- LoRA folder confinement ----

struct Escape {
  const char* name;
  std::string lora;
  int status;
  std::string message;
};
void PrintTo(const Escape& e, std::ostream* os) { *os << e.name; }

class LoraPaths : public ServerApi, public ::testing::WithParamInterface<Escape> {};

TEST_P(LoraPaths, ConfinedToTheLoraFolder) {
  start();
  Escape e = GetParam();
  if (e.lora.rfind("@LORA_DIR@", 0) == 0) e.lora = TestEnv::get().lora_dir + e.lora.substr(10);
  // through the loras list, a prompt tag, the A1111 prompt and the OpenAI extension field
  auto r = http().post("/v1/jobs", small({{"loras", {{{"name", e.lora}}}}}));
  EXPECT_EQ(r.status, e.status) << r.body;
  EXPECT_TRUE(contains(r.message(), e.message)) << r.body;
  auto p = http().post("/v1/jobs", small({{"loras", {{{"path", e.lora}}}}}));
  EXPECT_EQ(p.status, e.status) << p.body;
  if (e.lora.find_first_of(":>") == std::string::npos) {
    auto t = http().post("/sdapi/v1/txt2img", small({{"prompt", "x <lora:" + e.lora + ":0.5>"}}));
    EXPECT_EQ(t.status, e.status) << t.body;
    EXPECT_TRUE(contains(t.j["detail"].get<std::string>(), e.message)) << t.body;
  }
  auto o = http().post("/v1/images/generations",
                       json{{"prompt", "x"}, {"size", "64x64"}, {"loras", {{{"name", e.lora}}}}});
  EXPECT_EQ(o.status, e.status) << o.body;
}

INSTANTIATE_TEST_SUITE_P(
    All, LoraPaths,
    ::testing::Values(Escape{"dotdot", "../model/unet/diffusion_pytorch_model", 403, "'..' is not allowed"},
                      Escape{"dotdot_inside", "sub/../../loras/lora_a_kohya", 403, "'..' is not allowed"},
                      Escape{"backslash_dotdot", "..\\model", 403, "'..' is not allowed"},
                      Escape{"absolute", "/etc/passwd", 403, "absolute paths are not allowed"},
                      Escape{"absolute_inside", "@LORA_DIR@/lora_a_kohya.safetensors", 403,
                             "absolute paths are not allowed"},
                      Escape{"home", "~/x", 403, "absolute paths are not allowed"},
                      Escape{"drive", "C:\\loras\\x", 403, "absolute paths are not allowed"},
                      Escape{"symlink_file", "escape", 403, "resolves outside the LoRA folder"},
                      Escape{"symlink_file_ext", "escape.safetensors", 403, "resolves outside the LoRA folder"},
                      Escape{"symlink_dir", "outside_dir/unet/diffusion_pytorch_model.safetensors", 403,
                             "resolves outside the LoRA folder"},
                      Escape{"control", std::string("a\x01") + "b", 400, "control character"},
                      Escape{"missing", "missing_lora", 422, "no such LoRA"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(ServerApi, LoraNamesInsideTheFolderResolve) {
  start();
  for (const std::string name : {"lora_a_kohya", "lora_a_kohya.safetensors", "inside_link", "sub/loha_c_lycoris",
                                 "loha_c_lycoris", "sub/loha_c_lycoris.safetensors", "./lora_a_kohya"}) {
    auto r = http().post("/v1/jobs", small({{"loras", {{{"name", name}}}}}));
    EXPECT_EQ(r.status, 202) << name << ": " << r.body;
    if (r.status == 202) {
      EXPECT_EQ(wait_job(r.j["id"])["status"], "done") << name;
    }
  }
}

TEST_F(ServerApi, AdapterThatDoesNotFitFailsTheJobOnly) {
  start();
  json failed = wait_job(submit(small({{"loras", {{{"name", "not_adapter"}}}}})));
  EXPECT_EQ(failed["status"], "error");
  EXPECT_EQ(failed["error"]["code"], 422);
  EXPECT_TRUE(contains(failed["error"]["message"], "LoRA stack: ")) << failed.dump();
  auto sync = http().post("/sdapi/v1/txt2img", small({{"prompt", "x <lora:not_adapter:1>"}}));
  EXPECT_EQ(sync.status, 422) << sync.body;
  EXPECT_TRUE(contains(sync.j["detail"].get<std::string>(), "not_adapter")) << sync.body;
  // the server goes on
  EXPECT_EQ(wait_job(submit(small({{"loras", {{{"name", "lora_a_kohya"}}}}})))["status"], "done");
  EXPECT_EQ(server_info()["queue"]["failed"], 2);
}

// ---- A1111 ----

TEST_F(ServerApi, A1111Txt2ImgWithLoraTag) {
  start();
  auto r = http().post("/sdapi/v1/txt2img",
                       json{{"prompt", "masterpiece, a cat <lora:lora_a_kohya:0.6> <lora:locon_b_kohya:0.3:0.9>"},
                            {"negative_prompt", "lowres"},
                            {"steps", 2},
                            {"cfg_scale", 6.5},
                            {"sampler_name", "Euler a"},
                            {"seed", 42},
                            {"width", 64},
                            {"height", 128},
                            {"batch_size", 1},
                            {"n_iter", 2},
                            {"override_settings", {{"CLIP_stop_at_last_layers", 2}}},
                            {"enable_hr", false},
                            {"styles", json::array()},
                            {"alwayson_scripts", json::object()},
                            {"script_name", nullptr}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.j["images"].size(), 2u);
  EXPECT_EQ(r.j["parameters"]["prompt"], "masterpiece, a cat <lora:lora_a_kohya:0.6> <lora:locon_b_kohya:0.3:0.9>");
  EXPECT_EQ(r.j["parameters"]["seed"], 42);
  ASSERT_TRUE(r.j["info"].is_string());
  json info = json::parse(r.j["info"].get<std::string>());
  EXPECT_EQ(info["all_seeds"], json({42, 43}));
  EXPECT_EQ(info["sampler_name"], "Euler a");
  EXPECT_EQ(info["clip_skip"], 2);
  EXPECT_EQ(info["width"], 64);
  EXPECT_EQ(info["height"], 128);
  ASSERT_EQ(info["infotexts"].size(), 2u);
  for (int k = 0; k < 2; ++k) {
    ls::image::Image im;
    std::string text = png_parameters(base64_decode(r.j["images"][k].get<std::string>(), "images"), &im);
    EXPECT_EQ(im.width, 64);
    EXPECT_EQ(im.height, 128);
    EXPECT_EQ(text, info["infotexts"][k]);
    EXPECT_TRUE(contains(text, "Steps: 2, Sampler: Euler a, CFG scale: 6.5, Seed: " + std::to_string(42 + k))) << text;
    EXPECT_TRUE(contains(text, "Clip skip: 2")) << text;
    EXPECT_TRUE(contains(text, "Lora hashes: \"lora_a_kohya: ")) << text;
    EXPECT_TRUE(contains(text, ", locon_b_kohya: ")) << text;
  }
  // the stack: te 0.3, unet 0.9 for locon_b (A1111's order in <lora:name:te:unet>)
  auto job = http().get("/v1/jobs/" + info["job_id"].get<std::string>());
  EXPECT_EQ(job.j["parameters"]["loras"][1]["te_strength"], 0.3);
  EXPECT_EQ(job.j["parameters"]["loras"][1]["strength"], 0.9);
  // send_images false: no images, still the info
  auto quiet = http().post("/sdapi/v1/txt2img", small({{"send_images", false}}));
  EXPECT_EQ(quiet.j["images"].size(), 0u);
}

TEST_F(ServerApi, A1111RefusesWhatItCannotDo) {
  start();
  struct Case {
    json extra;
    int status;
    std::string param, message;
  };
  for (const Case& c : std::vector<Case>{
           {{{"enable_hr", true}}, 422, "enable_hr", "enable_hr: not supported"},
           {{{"restore_faces", true}}, 422, "restore_faces", "not supported"},
           {{{"subseed_strength", 0.5}}, 422, "subseed_strength", "variation seeds are not supported"},
           {{{"script_name", "x/y/z plot"}}, 422, "script_name", "scripts are not supported"},
           {{{"sampler_name", "NoSuchSampler"}}, 422, "sampler_name", "sampler_name 'NoSuchSampler': unknown sampler"},
           {{{"sampler_index", "Bogus"}}, 422, "sampler_index", "sampler_index 'Bogus': unknown sampler"},
           {{{"steps", 0}}, 422, "steps", "steps 0: must be in 1..150"},
           {{{"width", 100}}, 422, "width", "width 100: must be a multiple of 64"},
           {{{"override_settings", {{"CLIP_stop_at_last_layers", 40}}}}, 422,
            "override_settings.CLIP_stop_at_last_layers", "must be in 1..12"},
       }) {
    auto r = http().post("/sdapi/v1/txt2img", small(c.extra));
    EXPECT_EQ(r.status, c.status) << c.extra.dump() << r.body;
    EXPECT_EQ(r.param(), c.param) << r.body;
    EXPECT_TRUE(contains(r.j["detail"].get<std::string>(), c.message)) << r.body;
  }
  // unknown fields are ignored, as A1111 does
  EXPECT_EQ(http().post("/sdapi/v1/txt2img", small({{"do_not_save_grid", true}, {"eta", nullptr}})).status, 200);
}

TEST_F(ServerApi, A1111Img2ImgAndNativeInitImage) {
  start();
  auto t2i = http().post("/sdapi/v1/txt2img", small({{"seed", 5}}));
  ASSERT_EQ(t2i.status, 200) << t2i.body;
  const std::string init = t2i.j["images"][0];
  auto r = http().post("/sdapi/v1/img2img",
                       small({{"init_images", {"data:image/png;base64," + init}},
                              {"denoising_strength", 0.5},
                              {"steps", 4},
                              {"prompt", "a cat <lora:lora_a_kohya:0.4>"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  json info = json::parse(r.j["info"].get<std::string>());
  EXPECT_EQ(info["denoising_strength"], 0.5);
  EXPECT_EQ(r.j["parameters"]["denoising_strength"], 0.5);
  EXPECT_FALSE(r.j["parameters"].contains("init_images"));
  std::string text = png_parameters(base64_decode(r.j["images"][0].get<std::string>(), "images"));
  EXPECT_TRUE(contains(text, "Denoising strength: 0.5")) << text;
  EXPECT_TRUE(contains(text, "Lora hashes: \"lora_a_kohya: ")) << text;
  EXPECT_NE(r.j["images"][0], t2i.j["images"][0]);

  // native: init_image + strength
  json job = wait_job(submit(small({{"init_image", init}, {"strength", 0.3}})));
  ASSERT_EQ(job["status"], "done") << job.dump();
  EXPECT_EQ(job["parameters"]["img2img"], true);
  EXPECT_EQ(job["parameters"]["strength"], 0.3);
  EXPECT_TRUE(contains(png_parameters(png(job["id"])), "Denoising strength: 0.3"));

  struct Case {
    std::string path;
    json extra;
    int status;
    std::string param, message;
  };
  const std::string text_b64 = base64_encode("hello, not an image");
  for (const Case& c : std::vector<Case>{
           {"/sdapi/v1/img2img", json::object(), 422, "init_images", "init_images: expected an array holding one"},
           {"/sdapi/v1/img2img", {{"init_images", {init, init}}}, 422, "init_images", "2 images; this server takes one"},
           {"/sdapi/v1/img2img", {{"init_images", {"***"}}}, 400, "init_images[0]", "init_images[0]: not base64"},
           {"/sdapi/v1/img2img", {{"init_images", {text_b64}}}, 422, "init_images[0]", "not a PNG, JPEG or WebP image"},
           {"/sdapi/v1/img2img", {{"init_images", {init}}, {"denoising_strength", 1.5}}, 422, "denoising_strength",
            "denoising_strength 1.5: must be in 0..1"},
           {"/v1/jobs", {{"init_image", 5}}, 400, "init_image", "init_image: expected a base64 image"},
           {"/v1/jobs", {{"mask", init}}, 422, "mask", "mask: needs an init_image"},
           {"/v1/jobs", {{"rng", "philox"}}, 422, "rng", "rng 'philox': expected cpu, cuda or cpu-scalar"},
           {"/sdapi/v1/txt2img", {{"override_settings", {{"randn_source", "NV"}}}}, 422,
            "override_settings.randn_source", "expected cpu, cuda or cpu-scalar (A1111: CPU or GPU)"},
       }) {
    auto e = http().post(c.path, small(c.extra));
    EXPECT_EQ(e.status, c.status) << c.path << " " << c.extra.dump().substr(0, 200) << e.body;
    EXPECT_EQ(e.param(), c.param) << e.body;
    EXPECT_TRUE(contains(e.message(), c.message)) << e.body;
  }
}

TEST_F(ServerApi, A1111BatchSeedsFollowTheGenerator) {
  start();
  // A1111's default generator (randn_source GPU = torch CUDA): image b of a batch has seed + b
  auto gpu = http().post("/sdapi/v1/txt2img", small({{"batch_size", 2}, {"seed", 50}}));
  ASSERT_EQ(gpu.status, 200) << gpu.body;
  json info = json::parse(gpu.j["info"].get<std::string>());
  EXPECT_EQ(info["all_seeds"], json({50, 51}));
  EXPECT_TRUE(contains(info["infotexts"][1].get<std::string>(), "Seed: 51,")) << info.dump();
  EXPECT_TRUE(contains(info["infotexts"][1].get<std::string>(), "Batch size: 2, Batch pos: 1")) << info.dump();
  // the CPU generator draws the whole batch from one seed
  auto cpu = http().post("/sdapi/v1/txt2img",
                         small({{"batch_size", 2}, {"seed", 50}, {"override_settings", {{"randn_source", "CPU"}}}}));
  ASSERT_EQ(cpu.status, 200) << cpu.body;
  EXPECT_EQ(json::parse(cpu.j["info"].get<std::string>())["all_seeds"], json({50, 50}));
}

TEST_F(ServerApi, A1111Listings) {
  start();
  auto loras = http().get("/sdapi/v1/loras");
  ASSERT_EQ(loras.status, 200);
  std::map<std::string, json> by_name;
  for (auto& l : loras.j) by_name[l["name"]] = l;
  for (const char* n : {"lora_a_kohya", "locon_b_kohya", "loha_c_lycoris", "meta_style", "not_adapter", "inside_link"})
    EXPECT_TRUE(by_name.count(n)) << n << " " << loras.body;
  EXPECT_FALSE(by_name.count("escape")) << "a symlink leaving the folder is not listed";
  EXPECT_FALSE(by_name.count("diffusion_pytorch_model")) << "a symlinked folder is not descended into";
  EXPECT_EQ(by_name["loha_c_lycoris"]["rel_path"], "sub/loha_c_lycoris.safetensors");
  EXPECT_EQ(by_name["meta_style"]["alias"], "metastyle");
  EXPECT_EQ(by_name["meta_style"]["trigger_words"], json({"sks style", "watercolor"}));
  EXPECT_EQ(by_name["meta_style"]["metadata"]["modelspec.trigger_phrase"], "sks style, watercolor");
  EXPECT_EQ(by_name["lora_a_kohya"]["alias"], "lora_a_kohya");
  EXPECT_TRUE(by_name["lora_a_kohya"]["metadata"].contains("ss_network_dim"));

  // a file added later is found after refresh-loras (and by name at once)
  fs::copy_file(TestEnv::get().lora_dir + "/lora_a_kohya.safetensors", TestEnv::get().lora_dir + "/added_later.safetensors");
  EXPECT_EQ(wait_job(submit(small({{"loras", {{{"name", "added_later"}}}}})))["status"], "done");
  EXPECT_EQ(http().post("/sdapi/v1/refresh-loras", std::string("")).status, 200);
  EXPECT_TRUE(contains(http().get("/sdapi/v1/loras").body, "\"added_later\""));
  fs::remove(TestEnv::get().lora_dir + "/added_later.safetensors");

  auto models = http().get("/sdapi/v1/sd-models");
  EXPECT_EQ(models.j[0]["model_name"], "model");
  auto samplers = http().get("/sdapi/v1/samplers");
  std::set<std::string> names;
  for (auto& s : samplers.j) names.insert(s["name"]);
  for (const char* n : {"Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DDIM"}) EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(http().get("/sdapi/v1/schedulers").j[0]["label"], "Automatic");
  EXPECT_EQ(http().get("/sdapi/v1/options").j["sd_model_checkpoint"], "model");
  auto progress = http().get("/sdapi/v1/progress");
  EXPECT_EQ(progress.j["progress"], 0.0);
}

// ---- OpenAI ----

TEST_F(ServerApi, OpenAIImagesGenerations) {
  start();
  auto r = http().post("/v1/images/generations",
                       json{{"model", "anything"},
                            {"prompt", "a watercolor fox"},
                            {"n", 2},
                            {"size", "64x64"},
                            {"response_format", "b64_json"},
                            {"steps", 2},
                            {"seed", 9},
                            {"loras", {{{"name", "meta_style"}, {"strength", 0.75}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GT(r.j["created"].get<int64_t>(), 1700000000);
  ASSERT_EQ(r.j["data"].size(), 2u);
  for (auto& d : r.j["data"]) {
    std::string text = png_parameters(base64_decode(d["b64_json"].get<std::string>(), "b64_json"));
    EXPECT_TRUE(contains(text, "a watercolor fox <lora:meta_style:0.75>\n")) << text;
    EXPECT_TRUE(contains(text, "Seed: 9, Size: 64x64")) << text;
    EXPECT_TRUE(contains(text, "Batch size: 2")) << text;
    EXPECT_TRUE(contains(text, "Lora hashes: \"meta_style: ")) << text;
  }
  // url: absolute, and it serves the PNG
  auto u = http().post("/v1/images/generations", json{{"prompt", "a fox"}, {"size", "64x64"}, {"steps", 1}});
  ASSERT_EQ(u.status, 200) << u.body;
  const std::string url = u.j["data"][0]["url"];
  const std::string prefix = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1/jobs/";
  ASSERT_EQ(url.rfind(prefix, 0), 0u) << url;
  auto image = http().get(url.substr(url.find("/v1/")));
  EXPECT_EQ(image.status, 200);
  EXPECT_EQ(image.headers["Content-Type"], "image/png");
  EXPECT_EQ(image.body.substr(1, 3), "PNG");

  struct Case {
    json body;
    int status;
    std::string param, message;
  };
  for (const Case& c : std::vector<Case>{
           {{{"size", "64x64"}}, 400, "prompt", "Missing required parameter: 'prompt'"},
           {{{"prompt", "x"}, {"size", "64x65"}}, 422, "size", "size '64x65': height 65 must be a multiple of 64"},
           {{{"prompt", "x"}, {"size", "big"}}, 422, "size", "size 'big': expected WIDTHxHEIGHT"},
           {{{"prompt", "x"}, {"size", "64x64"}, {"n", 0}}, 422, "n", "n 0: must be in 1..8"},
           {{{"prompt", "x"}, {"size", "64x64"}, {"response_format", "jpeg"}}, 422, "response_format",
            "response_format 'jpeg': expected b64_json or url"},
           {{{"prompt", "x"}, {"size", "64x64"}, {"output_format", "webp"}}, 422, "output_format", "only png"},
           {{{"prompt", "x"}, {"size", "64x64"}, {"stream", true}}, 422, "stream", "streaming is not supported"},
           {{{"prompt", "x"}, {"size", "64x64"}, {"loras", {{{"name", "../x"}}}}}, 403, "loras[0].name", "'..' is not allowed"},
       }) {
    auto e = http().post("/v1/images/generations", c.body);
    EXPECT_EQ(e.status, c.status) << c.body.dump() << e.body;
    EXPECT_EQ(e.param(), c.param) << e.body;
    EXPECT_TRUE(contains(e.message(), c.message)) << e.body;
    EXPECT_EQ(e.j["error"]["type"], "invalid_request_error");
  }
}

TEST_F(ServerApi, OversizedBodyIs413) {
  start();
  auto r = http().post("/v1/jobs", std::string(33u << 20, ' '));
  EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
}

}  // namespace
}  // namespace ls::server::testing
