// A1111 clients against a real server on 127.0.0.1: POST /sdapi/v1/interrupt without a body (as `curl -X POST`
// sends it), every name and alias /sdapi/v1/loras lists usable in a <lora:…> tag, and the checkpoint's hash where
// A1111 reports it (sd-models, info, the PNG's parameters); a diffusers folder has no file hash.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/base64.h"
#include "server/server.h"
#include "server_env.h"

namespace ls::server::testing {
namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// Send `request` as is on a new connection to 127.0.0.1:`port`; the whole answer (the server closes it).
std::string raw_http(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

class A1111Compat : public ::testing::Test {
 protected:
  void start(const std::string& model, const std::string& tokenizer = "") {
    ServerOptions o;
    o.model.model = model;
    o.model.tokenizer_dir = tokenizer;
    o.model.threads = 1;
    o.lora_dir = TestEnv::get().lora_dir;
    o.port = 0;
    server_ = std::make_unique<Server>(o);
    server_->start();
    http_ = std::make_unique<Http>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  Http& http() { return *http_; }
  json txt2img(const std::string& prompt) {
    auto r = http().post("/sdapi/v1/txt2img",
                         json{{"prompt", prompt}, {"steps", 1}, {"width", 64}, {"height", 64}, {"seed", 3}});
    EXPECT_EQ(r.status, 200) << prompt << "\n" << r.body;
    return r.j;
  }
  std::unique_ptr<Server> server_;
  std::unique_ptr<Http> http_;
};

TEST_F(A1111Compat, InterruptTakesNoBodyOrAnEmptyOne) {
  start(TestEnv::get().model_dir);
  // `curl -X POST URL`: neither Content-Length nor a body
  for (const std::string& headers : {std::string(""), std::string("Content-Type: application/json\r\n")}) {
    std::string a = raw_http(server_->port(), "POST /sdapi/v1/interrupt HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
                                                  "Connection: close\r\n\r\n");
    EXPECT_EQ(a.rfind("HTTP/1.1 200", 0), 0u) << a;
    EXPECT_TRUE(has(a, "\r\n\r\nnull")) << a;
  }
  // an empty body (Content-Length: 0), and an empty JSON object
  EXPECT_EQ(http().post("/sdapi/v1/interrupt", std::string("")).status, 200);
  EXPECT_EQ(http().post("/sdapi/v1/interrupt", std::string("{}")).status, 200);
  // a route that needs a body still says so, at once, when there is none
  std::string a = raw_http(server_->port(), "POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: "
                                            "close\r\n\r\n");
  EXPECT_EQ(a.rfind("HTTP/1.1 4", 0), 0u) << a;
  EXPECT_TRUE(has(a, "\"error\"")) << a;
}

TEST_F(A1111Compat, EveryListedNameAndAliasWorksInATag) {
  start(TestEnv::get().model_dir);
  auto loras = http().get("/sdapi/v1/loras");
  ASSERT_EQ(loras.status, 200);
  std::set<std::string> tried;
  for (const auto& l : loras.j) {
    if (l["name"] == "not_adapter") continue;  // listed, but no adapter's keys (the job fails at set_loras)
    for (const char* field : {"name", "alias"}) {
      const std::string n = l[field];
      if (!tried.insert(n).second) continue;
      json r = txt2img("a cat <lora:" + n + ":0.5>");
      ASSERT_TRUE(r.contains("info")) << n;
      json info = json::parse(r["info"].get<std::string>());
      EXPECT_TRUE(has(info["infotexts"][0], "Lora hashes: ")) << n << ": " << info["infotexts"][0];
    }
  }
  EXPECT_TRUE(tried.count("metastyle"));  // meta_style.safetensors's ss_output_name
  // the alias names the same adapter as the file name: the same pixels
  auto pixels = [&](const std::string& prompt) {
    ls::image::Image im;
    png_parameters(base64_decode(txt2img(prompt)["images"][0].get<std::string>(), "images"), &im);
    return im.rgb;
  };
  const auto by_alias = pixels("a cat <lora:metastyle:0.5>");
  EXPECT_EQ(by_alias, pixels("a cat <lora:meta_style:0.5>"));
  EXPECT_NE(by_alias, pixels("a cat"));
  auto unknown = http().post("/sdapi/v1/txt2img", json{{"prompt", "a cat <lora:nosuchalias:1>"}, {"steps", 1},
                                                        {"width", 64}, {"height", 64}});
  EXPECT_EQ(unknown.status, 422) << unknown.body;
}

TEST_F(A1111Compat, ModelHashOfASingleFileCheckpoint) {
  const std::string ref = std::string(LS_SHARED_DIR) + "/refsuite/model/";
  start(ref + "tiny-sd1.safetensors", ref + "tiny-sd1/tokenizer");
  const std::string sha = "5e77a0188ba59dbd7b7a9e96237c655a01ef5b0a34dc802bb8d3b52fedc6cb2a";  // sha256sum
  auto models = http().get("/sdapi/v1/sd-models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.j[0]["hash"], sha.substr(0, 10));
  EXPECT_EQ(models.j[0]["sha256"], sha);
  json r = txt2img("a cat");
  json info = json::parse(r["info"].get<std::string>());
  EXPECT_EQ(info["sd_model_hash"], "5e77a0188b");
  const std::string text = info["infotexts"][0];
  EXPECT_TRUE(has(text, ", Size: 64x64, Model hash: 5e77a0188b, Model: tiny-sd1, ")) << text;
  EXPECT_EQ(png_parameters(base64_decode(r["images"][0].get<std::string>(), "images")), text);
  EXPECT_TRUE(has(http().get("/v1/server").body, "\"version\":\"" LS_PROJECT_VERSION "\""));
}

TEST_F(A1111Compat, DiffusersFolderHasNoModelHash) {
  start(TestEnv::get().model_dir);
  auto models = http().get("/sdapi/v1/sd-models");
  EXPECT_TRUE(models.j[0]["hash"].is_null());
  EXPECT_TRUE(models.j[0]["sha256"].is_null());
  json info = json::parse(txt2img("a cat")["info"].get<std::string>());
  EXPECT_TRUE(info["sd_model_hash"].is_null());
  const std::string text = info["infotexts"][0];
  EXPECT_FALSE(has(text, "Model hash")) << text;
  EXPECT_TRUE(has(text, ", Model: model, ")) << text;
}

}  // namespace
}  // namespace ls::server::testing
