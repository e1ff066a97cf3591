// Shared by the server tests: a tiny random SD1 model (lorastack::init_model "tiny") and a LoRA folder made of the
// refsuite's tiny adapters, built once per test process under a private temporary folder; an HTTP client helper.
//
// LoRA folder layout (names the tests use):
//   lora_a_kohya.safetensors, locon_b_kohya.safetensors, sub/loha_c_lycoris.safetensors  (refsuite adapters)
//   meta_style.safetensors   lora_a's tensors with modelspec.trigger_phrase "sks style, watercolor" and
//                            ss_output_name "metastyle"
//   not_adapter.safetensors  a safetensors file whose keys are no adapter's (the job fails at set_loras)
//   inside_link.safetensors  → lora_a_kohya.safetensors (a symlink inside the folder: allowed)
//   escape.safetensors       → the model's UNet weights outside the folder (refused, 403)
//   outside_dir/             → the model folder (a symlinked folder: never descended into)
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "image/image.h"
#include "io/safetensors.h"
#include "lorastack/lorastack.h"

namespace ls::server::testing {

namespace fs = std::filesystem;
using nlohmann::json;

struct TestEnv {
  std::string root, model_dir, lora_dir;

  static const TestEnv& get() {
    static TestEnv env = make();
    return env;
  }

 private:
  static TestEnv make() {
    TestEnv e;
    e.root = (fs::temp_directory_path() / ("lorastack-test-server-" + std::to_string(getpid()))).string();
    fs::remove_all(e.root);
    fs::create_directories(e.root);
    e.model_dir = e.root + "/model";
    lorastack::init_model("tiny", "", 1, e.model_dir);
    e.lora_dir = e.root + "/loras";
    fs::create_directories(e.lora_dir + "/sub");
    const std::string a = std::string(LS_SHARED_DIR) + "/refsuite/adapters/";
    auto copy = [](const std::string& from, const std::string& to) {
      fs::copy_file(from, to, fs::copy_options::overwrite_existing);
      fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write);
    };
    copy(a + "lora_a/lora_a_kohya.safetensors", e.lora_dir + "/lora_a_kohya.safetensors");
    copy(a + "locon_b/locon_b_kohya.safetensors", e.lora_dir + "/locon_b_kohya.safetensors");
    copy(a + "loha_c/loha_c_lycoris.safetensors", e.lora_dir + "/sub/loha_c_lycoris.safetensors");
    auto lora_a = ls::io::read_safetensors(e.lora_dir + "/lora_a_kohya.safetensors");
    auto md = lora_a.metadata;
    md["modelspec.trigger_phrase"] = "sks style, watercolor";
    md["ss_output_name"] = "metastyle";
    ls::io::write_safetensors(e.lora_dir + "/meta_style.safetensors", lora_a.tensors, md);
    ls::io::write_safetensors(e.lora_dir + "/not_adapter.safetensors",
                              {{"some.random.tensor", ls::Tensor::full({4}, 1.0f)}});
    fs::create_symlink("lora_a_kohya.safetensors", e.lora_dir + "/inside_link.safetensors");
    fs::create_symlink(e.model_dir + "/unet/diffusion_pytorch_model.safetensors", e.lora_dir + "/escape.safetensors");
    fs::create_directory_symlink(e.model_dir, e.lora_dir + "/outside_dir");
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(fs::temp_directory_path() / ("lorastack-test-server-" + std::to_string(getpid())), ec);
    });
    return e;
  }
};

/// A response: status, body, and the body parsed as JSON (null when it is not JSON).
struct Reply {
  int status = 0;
  std::string body;
  json j;
  std::map<std::string, std::string> headers;
  std::string message() const {
    return j.is_object() && j.contains("error") && j["error"].is_object() ? j["error"].value("message", "") : "";
  }
  std::string param() const {
    return j.is_object() && j.contains("error") && j["error"].is_object() && j["error"]["param"].is_string()
               ? j["error"]["param"].get<std::string>()
               : "";
  }
};

class Http {
 public:
  Http(const std::string& host, int port) : host_(host), port_(port) {}
  Reply get(const std::string& path) { return wrap(client().Get(path.c_str())); }
  Reply post(const std::string& path, const std::string& body) {
    return wrap(client().Post(path.c_str(), body, "application/json"));
  }
  Reply post(const std::string& path, const json& body) { return post(path, body.dump()); }
  Reply del(const std::string& path) { return wrap(client().Delete(path.c_str())); }
  httplib::Client client() const {
    httplib::Client c(host_, port_);
    c.set_read_timeout(120, 0);
    c.set_connection_timeout(10, 0);
    return c;
  }

 private:
  static Reply wrap(const httplib::Result& r) {
    Reply out;
    if (!r) {
      out.status = -1;
      out.body = httplib::to_string(r.error());
      return out;
    }
    out.status = r->status;
    out.body = r->body;
    for (auto& [k, v] : r->headers) out.headers[k] = v;
    out.j = json::parse(r->body, nullptr, false);
    if (out.j.is_discarded()) out.j = nullptr;
    return out;
  }
  std::string host_;
  int port_;
};

/// The "parameters" text chunk of PNG bytes (written to a temporary file and read with ls::image::read_png).
inline std::string png_parameters(const std::string& png_bytes, ls::image::Image* image = nullptr) {
  static std::atomic<int> counter{0};
  auto path = fs::path(TestEnv::get().root) / ("read-" + std::to_string(++counter) + "-" +
                                               std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())) +
                                               ".png");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(png_bytes.data(), static_cast<std::streamsize>(png_bytes.size()));
  }
  std::map<std::string, std::string> text;
  auto im = ls::image::read_png(path.string(), &text);
  if (image) *image = im;
  fs::remove(path);
  return text.count("parameters") ? text["parameters"] : "";
}

}  // namespace ls::server::testing
