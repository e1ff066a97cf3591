// `lorastack serve`: the HTTP server of src/server (one resident model, LoRAs per request, web page at /).
#include <csignal>
#include <iostream>
#include <memory>

#include <pthread.h>

#include "server/server.h"
#include "toolbox_commands.h"

void add_serve_command(CLI::App& app, ToolboxActions& actions) {
  auto o = std::make_shared<ls::server::ServerOptions>();
  auto lora_mode = std::make_shared<std::string>("auto");
  auto* serve = app.add_subcommand(
      "serve", "HTTP server: native async API, A1111 (/sdapi/v1) and OpenAI (/v1/images) endpoints, web page at /");
  serve->add_option("-m,--model", o->model.model, "checkpoint file or diffusers folder (loaded once)")->required();
  serve->add_option("--config", o->model.config_yaml, "LDM yaml config");
  serve->add_option("--tokenizer", o->model.tokenizer_dir, "folder with vocab.json and merges.txt");
  serve->add_option("--prediction", o->model.prediction_type, "epsilon | v_prediction (default: from the model)");
  serve->add_option("--threads", o->model.threads, "CPU threads (0 = all)");
  serve->add_option("--device", o->model.device, "cpu | cuda | cuda:N");
  serve->add_option("--precision", o->model.precision, "fp32 | fp16 | bf16 (CUDA compute precision)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  serve->add_option("--lora-dir", o->lora_dir, "folder of LoRAs requests may name (nothing outside it is reachable)");
  serve->add_option("--lora-mode", *lora_mode, "fuse | runtime | auto")->check(CLI::IsMember({"fuse", "runtime", "auto"}));
  serve->add_option("--host", o->host, "address to bind (default 127.0.0.1: this machine only)");
  serve->add_option("--port", o->port, "port (0 = any free port; the URL is printed)")->check(CLI::Range(0, 65535));
  serve->add_option("--queue", o->queue, "jobs that may wait behind the running one; more get 429")
      ->check(CLI::Range(1, 10000));
  serve->add_option("--keep-jobs", o->keep_jobs, "finished jobs (and their images) kept for GET /v1/jobs/{id}")
      ->check(CLI::Range(1, 100000));
  serve->add_option("--output-dir", o->output_dir, "keep every PNG here (default: a temporary folder removed on exit)");
  serve->add_option("--http-threads", o->http_threads, "HTTP worker threads (0 = queue + 8)")->check(CLI::Range(0, 4096));
  serve->add_flag("--access-log", o->access_log, "log every request to stderr");
  actions.emplace_back(serve, [o, lora_mode] {
    o->lora_mode = *lora_mode == "fuse"      ? lorastack::LoraMode::Fuse
                   : *lora_mode == "runtime" ? lorastack::LoraMode::Runtime
                                             : lorastack::LoraMode::Auto;
    // SIGINT / SIGTERM are taken by sigwait below: block them before any thread starts (threads inherit the mask).
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ls::server::Server server(*o);
    std::cerr << server.info()["description"].get<std::string>() << "\n";
    server.start();
    std::cout << "lorastack serve: listening on " << server.url() << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "lorastack serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
    server.stop();
    return 0;
  });
}
