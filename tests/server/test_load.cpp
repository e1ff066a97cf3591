// Load test: `lorastack serve` as a child process (the tiny model, a LoRA folder of refsuite adapters, a short
// queue so 429s happen), 200 requests sent by 12 concurrent clients over the three APIs — random LoRA stacks and
// strengths, random samplers, steps and seeds, and a share of bad requests. Every good request must finish with
// the right parameters in its PNG text chunk (clients retry after a 429), every bad one must get its 4xx, and the
// server's resident memory is measured before and after (printed; bounded loosely outside sanitizer builds).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "server/base64.h"
#include "server_env.h"

extern char** environ;

namespace ls::server::testing {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string host;
  int port = 0;
  std::string log;
};

Child spawn_server(const std::vector<std::string>& args, const std::string& log) {
  Child c;
  c.log = log;
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (posix_spawn(&c.pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) throw std::runtime_error("posix_spawn");
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  c.out = fds[0];
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{c.out, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[256];
    ssize_t n = read(c.out, buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
  }
  const std::string marker = "listening on http://";
  auto at = line.find(marker);
  if (at == std::string::npos) throw std::runtime_error("server did not start: '" + line + "'");
  std::string hostport = line.substr(at + marker.size(), line.find('\n') - at - marker.size());
  c.host = hostport.substr(0, hostport.rfind(':'));
  c.port = std::stoi(hostport.substr(hostport.rfind(':') + 1));
  return c;
}

uint64_t rss_bytes(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Planned {
  std::string api;    ///< native, a1111, openai
  std::string path;   ///< endpoint
  std::string body;
  int expect = 200;   ///< 200 (202 for native) or the 4xx a bad request must get
  // what the PNG must say (good requests)
  std::vector<std::string> must_contain;
};

constexpr const char* kLoras[] = {"lora_a_kohya", "locon_b_kohya", "loha_c_lycoris", "meta_style"};
constexpr const char* kSamplers[] = {"Euler", "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "DDIM"};

Planned plan(std::mt19937& rng, int index) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Planned p;
  const int api = uni(0, 2);
  p.api = api == 0 ? "native" : api == 1 ? "a1111" : "openai";
  p.path = api == 0 ? "/v1/jobs" : api == 1 ? "/sdapi/v1/txt2img" : "/v1/images/generations";
  const int steps = uni(1, 3);
  const uint64_t seed = static_cast<uint64_t>(uni(0, 1000000));
  const int width = uni(0, 7) == 0 ? 128 : 64, height = 64;
  const char* sampler = kSamplers[uni(0, 4)];
  // a random stack of 0..3 distinct adapters, strengths in [-1.5, 1.5] on a 0.05 grid
  std::vector<int> order{0, 1, 2, 3};
  std::shuffle(order.begin(), order.end(), rng);
  const int k = uni(0, 3);
  std::string prompt = "load test " + std::to_string(index);
  json loras = json::array();
  std::vector<std::string> tags;
  for (int i = 0; i < k; ++i) {
    const float strength = static_cast<float>(uni(-30, 30) / 20.0);
    const std::string name = kLoras[order[i]];
    loras.push_back({{"name", name}, {"strength", strength}});
    tags.push_back(fmt::format("<lora:{}:{}>", name, strength));
    p.must_contain.push_back(name + ": ");  // in "Lora hashes"
  }
  json body;
  if (api == 1) {  // A1111: tags in the prompt
    for (auto& t : tags) prompt += " " + t;
    body = {{"prompt", prompt}, {"steps", steps}, {"seed", seed}, {"width", width}, {"height", height},
            {"sampler_name", sampler}, {"cfg_scale", 7}, {"batch_size", 1}, {"n_iter", 1}};
  } else if (api == 0) {
    body = {{"prompt", prompt}, {"steps", steps}, {"seed", seed}, {"width", width}, {"height", height},
            {"sampler", sampler}, {"loras", loras}};
  } else {
    body = {{"prompt", prompt}, {"steps", steps}, {"seed", seed}, {"size", fmt::format("{}x{}", width, height)},
            {"sampler", sampler}, {"loras", loras}, {"response_format", "b64_json"}};
  }
  std::string first_line = prompt;
  if (api != 1)
    for (auto& t : tags) first_line += " " + t;
  p.must_contain.push_back(first_line + "\n");
  const std::string display = std::string(sampler).substr(0, std::string(sampler).find(" Karras"));
  p.must_contain.push_back(fmt::format("Steps: {}, Sampler: {},", steps, display));
  p.must_contain.push_back(fmt::format("Seed: {}, Size: {}x{}", seed, width, height));
  if (k > 0) p.must_contain.push_back("Lora hashes: \"");
  p.expect = api == 0 ? 202 : 200;

  // one request in four is bad, in one of these ways
  if (uni(0, 3) == 0) {
    p.must_contain.clear();
    switch (uni(0, 8)) {
      case 0: body["steps"] = 0; p.expect = 422; break;
      case 1:
        if (api == 2) body["size"] = "72x64";
        else body["width"] = 72;
        p.expect = 422;
        break;
      case 2: body[api == 1 ? "sampler_name" : "sampler"] = "NoSuchSampler"; p.expect = 422; break;
      case 3:
        if (api == 1) body["prompt"] = "x <lora:no_such_lora:0.5>";
        else body["loras"] = {{{"name", "no_such_lora"}}};
        p.expect = 422;
        break;
      case 4:
        if (api == 1) body["prompt"] = "x <lora:../model/unet/diffusion_pytorch_model:0.5>";
        else body["loras"] = {{{"name", "../model/unet/diffusion_pytorch_model"}}};
        p.expect = 403;
        break;
      case 5:
        if (api == 1) body["prompt"] = "x <lora:escape:1>";
        else body["loras"] = {{{"name", "escape"}}};
        p.expect = 403;
        break;
      case 6: p.body = "{\"prompt\": \"unterminated"; p.expect = 400; return p;
      case 7: body["seed"] = "abc"; p.expect = 400; break;
      case 8:
        if (api == 1) body["prompt"] = "x <lora:lora_a_kohya:20>";
        else body["loras"] = {{{"name", "lora_a_kohya"}, {"strength", 20}}};
        p.expect = 422;
        break;
    }
  }
  p.body = body.dump();
  return p;
}

TEST(ServerLoad, TwoHundredConcurrentRequests) {
  const auto& env = TestEnv::get();
  Child child = spawn_server({LS_CLI_PATH, "serve", "--model", env.model_dir, "--lora-dir", env.lora_dir, "--port", "0",
                              "--queue", "6", "--keep-jobs", "64", "--threads", "1"},
                             env.root + "/server.log");
  Http http(child.host, child.port);

  // warm-up: every adapter once (the Engine's adapter cache fills), then the "before" figure
  for (const char* name : kLoras) {
    auto r = http.post("/sdapi/v1/txt2img", json{{"prompt", std::string("warm <lora:") + name + ":0.5>"}, {"steps", 2},
                                                 {"width", 64}, {"height", 64}});
    ASSERT_EQ(r.status, 200) << r.body << slurp(child.log);
  }
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(http.post("/v1/images/generations", json{{"prompt", "warm"}, {"size", "64x64"}, {"steps", 1},
                                                       {"response_format", "b64_json"}}).status, 200);
  const uint64_t rss_before = rss_bytes(child.pid);

  std::mt19937 rng(20241129);
  std::vector<Planned> plans;
  for (int i = 0; i < 200; ++i) plans.push_back(plan(rng, i));

  std::atomic<int> next{0}, good_ok{0}, bad_ok{0}, retries429{0};
  std::mutex fail_mutex;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& m) {
    std::lock_guard<std::mutex> l(fail_mutex);
    failures.push_back(m);
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto client = [&] {
    Http h(child.host, child.port);
    for (int i; (i = next++) < static_cast<int>(plans.size());) {
      const Planned& p = plans[static_cast<size_t>(i)];
      Reply r;
      for (int attempt = 0; attempt < 2000; ++attempt) {
        r = h.post(p.path, p.body);
        if (r.status != 429) break;
        ++retries429;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      const std::string what = fmt::format("request {} ({} {}): ", i, p.api, p.body.substr(0, 300));
      if (r.status != p.expect) {
        fail(what + fmt::format("status {} (expected {}): {}", r.status, p.expect, r.body.substr(0, 300)));
        continue;
      }
      if (p.expect >= 400) {
        if (r.message().empty() || r.j["detail"] != r.message()) fail(what + "error without a message: " + r.body);
        else ++bad_ok;
        continue;
      }
      std::string png;
      if (p.api == "native") {
        const std::string id = r.j["id"];
        json job;
        for (int k = 0; k < 30000; ++k) {
          job = h.get("/v1/jobs/" + id).j;
          if (job.is_object() && (job["status"] == "done" || job["status"] == "error" || job["status"] == "cancelled"))
            break;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (!job.is_object() || job["status"] != "done") {
          fail(what + "job did not finish: " + job.dump());
          continue;
        }
        png = h.get("/v1/jobs/" + id + "/images/0.png").body;
      } else if (p.api == "a1111") {
        png = base64_decode(r.j["images"][0].get<std::string>(), "images");
      } else {
        png = base64_decode(r.j["data"][0]["b64_json"].get<std::string>(), "b64_json");
      }
      std::string text;
      try {
        text = png_parameters(png);
      } catch (const std::exception& e) {
        fail(what + "unreadable PNG: " + e.what());
        continue;
      }
      bool ok = true;
      for (const auto& part : p.must_contain)
        if (text.find(part) == std::string::npos) {
          fail(what + "PNG parameters lack '" + part + "': " + text);
          ok = false;
          break;
        }
      if (ok) ++good_ok;
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) clients.emplace_back(client);
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t rss_after = rss_bytes(child.pid);

  int good = 0, bad = 0;
  for (auto& p : plans) (p.expect >= 400 ? bad : good)++;
  for (size_t i = 0; i < failures.size() && i < 10; ++i) ADD_FAILURE() << failures[i];
  EXPECT_EQ(good_ok, good);
  EXPECT_EQ(bad_ok, bad);
  auto info = http.get("/v1/server").j;
  EXPECT_EQ(info["queue"]["failed"], 0) << info.dump();
  EXPECT_EQ(info["queue"]["done"].get<int>(), good + 10);

  const double mib = 1024.0 * 1024.0;
  std::cout << fmt::format("load: {} requests ({} good, {} bad) in {:.1f} s, {} retries after 429; server RSS {:.1f} MiB "
                           "before, {:.1f} MiB after ({:+.1f} MiB); {} LoRA stack switches\n",
                           plans.size(), good, bad, seconds, retries429.load(), rss_before / mib, rss_after / mib,
                           (static_cast<double>(rss_after) - static_cast<double>(rss_before)) / mib,
                           info["queue"]["lora_switches"].get<int>());
  ::testing::Test::RecordProperty("rss_before_bytes", std::to_string(rss_before));
  ::testing::Test::RecordProperty("rss_after_bytes", std::to_string(rss_after));
  ::testing::Test::RecordProperty("seconds", std::to_string(seconds));
  if (!kSanitized) {
    EXPECT_LT(static_cast<double>(rss_after) - static_cast<double>(rss_before), 32 * mib);
  }

  // SIGTERM: a clean exit
  kill(child.pid, SIGTERM);
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 300 && done == 0; ++i) {
    done = waitpid(child.pid, &status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (done == 0) {
    kill(child.pid, SIGKILL);
    waitpid(child.pid, &status, 0);
    ADD_FAILURE() << "server did not stop within 30 s of SIGTERM";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(child.log);
  close(child.out);
}

}  // namespace
}  // namespace ls::server::testing
