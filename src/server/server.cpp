#include "server/server.h"

#include <strings.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <thread>

#include "pipeline/parameters.h"
#include "server/context.h"

namespace ls::server {

uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

struct Server::Impl {
  ServerContext ctx;
  bool own_output_dir = false;
  httplib::Server http;
  std::thread listener;
  int port = 0;
  std::mutex mutex;
  std::condition_variable stopped_cv;
  bool stopping = false;
  bool stopped = false;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  auto& ctx = impl_->ctx;
  if (options.queue < 1 || options.queue > 10000) ls::fail("--queue {}: must be in 1..10000", options.queue);
  if (options.keep_jobs < 1 || options.keep_jobs > 100000) ls::fail("--keep-jobs {}: must be in 1..100000", options.keep_jobs);
  if (options.port < 0 || options.port > 65535) ls::fail("--port {}: must be in 0..65535", options.port);
  ctx.options = options;
  ctx.loras = std::make_unique<LoraLibrary>(options.lora_dir);
  // The checkpoint's SHA-256 (A1111 "Model hash", /sdapi/v1/sd-models) is read while the model loads; an
  // unreadable file is the Engine's error to report, so a failed hash only leaves the hash out.
  auto sha256 = std::async(std::launch::async, [path = options.model.model] {
    try {
      return lorastack::checkpoint_sha256(path);
    } catch (const std::exception&) {
      return std::string();
    }
  });
  ctx.engine = std::make_unique<lorastack::Engine>(options.model);
  ctx.model_sha256 = sha256.get();
  ctx.description = ctx.engine->describe();
  ctx.size_multiple = ctx.engine->size_multiple();
  std::filesystem::path mp(options.model.model);
  ctx.model_name = (mp.has_filename() ? mp : mp.parent_path()).stem().string();
  if (options.output_dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lorastack-serve-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) ls::fail("{}: cannot create a temporary folder for images", tmpl);
    ctx.output_dir = tmpl;
    impl_->own_output_dir = true;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.output_dir, ec);
    if (!std::filesystem::is_directory(options.output_dir)) ls::fail("--output-dir {}: not a folder", options.output_dir);
    ctx.output_dir = options.output_dir;
  }
  ctx.started = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  QueueOptions q;
  q.capacity = options.queue;
  q.keep_finished = options.keep_jobs;
  q.output_dir = ctx.output_dir;
  q.delete_evicted = impl_->own_output_dir;
  q.lora_mode = options.lora_mode;
  q.model_hash = ctx.model_sha256.substr(0, 10);
  q.step_hook = options.step_hook;
  ctx.queue = std::make_unique<JobQueue>(*ctx.engine, q);

  auto& http = impl_->http;
  const int threads = options.http_threads > 0 ? options.http_threads : std::min(options.queue + 8, 512);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, which lets a second server bind the same port
  // and silently share its connections
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_payload_max_length(32u << 20);
  // `curl -d '{...}'` labels a JSON body application/x-www-form-urlencoded, and Debian's compiled cpp-httplib
  // refuses such bodies above 8 KiB (its CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH) with a 413 before any
  // handler runs. No endpoint here takes form data, so the header is relabelled as JSON before the body is read
  // (the Request object httplib passes is its own non-const local).
  // A request with neither Content-Length nor Transfer-Encoding has an empty body (RFC 9112 §6.3; `curl -X POST`
  // sends such requests to /sdapi/v1/interrupt, and A1111 answers them), but cpp-httplib 0.11 reads such a POST
  // body to the end of the connection and answers 400: say "Content-Length: 0" for it before the body is read.
  http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    auto& headers = const_cast<httplib::Request&>(req).headers;
    bool has_length = false;
    for (auto it = headers.begin(); it != headers.end(); ++it) {
      if (strcasecmp(it->first.c_str(), "Content-Type") == 0 &&
          it->second.rfind("application/x-www-form-urlencoded", 0) == 0)
        it->second = "application/json";
      if (strcasecmp(it->first.c_str(), "Content-Length") == 0 ||
          strcasecmp(it->first.c_str(), "Transfer-Encoding") == 0)
        has_length = true;
    }
    if (!has_length) headers.emplace("Content-Length", "0");
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_keep_alive_timeout(2);
  http.set_read_timeout(30);
  http.set_write_timeout(30);
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string msg = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      msg = e.what();
    } catch (...) {
    }
    send_error(res, 500, "", msg);
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404)
      send_error(res, 404, "", "no route " + req.method + " " + req.path.substr(0, 200));
    else if (res.status == 413)
      send_error(res, 413, "", "request body larger than 32 MiB");
    else
      send_error(res, res.status, "", "HTTP status " + std::to_string(res.status) + " for " + req.method + " " +
                                          req.path.substr(0, 200));
    return httplib::Server::HandlerResponse::Handled;
  }));
  if (options.access_log)
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "%s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
    });
  add_native_routes(http, ctx);
  add_a1111_routes(http, ctx);
  add_openai_routes(http, ctx);
  add_web_routes(http, ctx);
}

Server::~Server() {
  stop();
  if (impl_->own_output_dir) {
    std::error_code ec;
    std::filesystem::remove_all(impl_->ctx.output_dir, ec);
  }
}

void Server::start() {
  auto& m = *impl_;
  const auto& o = m.ctx.options;
  if (o.port == 0) {
    m.port = m.http.bind_to_any_port(o.host);
    if (m.port <= 0) ls::fail("--host {}: cannot bind to any port", o.host);
  } else {
    if (!m.http.bind_to_port(o.host, o.port))
      ls::fail("--host {} --port {}: cannot bind (address in use, or not an address of this machine)", o.host, o.port);
    m.port = o.port;
  }
  m.listener = std::thread([&m] { m.http.listen_after_bind(); });
  // stop() only stops a server that is running: wait until the listener thread got there
  for (int i = 0; i < 10000 && !m.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

int Server::port() const { return impl_->port; }

std::string Server::url() const {
  const std::string& h = impl_->ctx.options.host;
  const std::string host = h == "0.0.0.0" ? "127.0.0.1" : h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return "http://" + host + ":" + std::to_string(impl_->port);
}

void Server::stop() {
  auto& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mutex);
  if (m.stopping) {  // another thread is stopping (or did): wait for it to finish
    m.stopped_cv.wait(lock, [&] { return m.stopped; });
    return;
  }
  m.stopping = true;
  lock.unlock();
  m.ctx.queue->stop();  // wakes every waiting request and event stream first
  m.http.stop();
  if (m.listener.joinable()) m.listener.join();
  lock.lock();
  m.stopped = true;
  m.stopped_cv.notify_all();
}

void Server::wait() {
  auto& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mutex);
  m.stopped_cv.wait(lock, [&] { return m.stopped; });
}

JobQueue& Server::queue() { return *impl_->ctx.queue; }

nlohmann::json Server::info() {
  return {{"model", impl_->ctx.model_name}, {"description", impl_->ctx.description}, {"url", url()},
          {"rss_bytes", resident_bytes()}};
}

}  // namespace ls::server
