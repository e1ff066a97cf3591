// `lorastack serve`: the HTTP server of src/server (one resident model, LoRAs per request, web page at /).
#include <csignal>
#include <iostream>
#include <memory>

#include <pthread.h>

#include <fmt/format.h>

#include "server/server.h"
#include "toolbox_commands.h"

void add_serve_command(CLI::App& app, ToolboxActions& actions) {
  auto o = std::make_shared<ls::server::ServerOptions>();
  auto lora_mode = std::make_shared<std::string>("auto");
  auto* serve = app.add_subcommand(
      "serve", "HTTP server: native async API, A1111 (/sdapi/v1) and OpenAI (/v1/images) endpoints, web page at /");
  // defaults are written into the help from the option structs, so they stay true
  serve->add_option("-m,--model", o->model.model, "checkpoint file or diffusers folder (loaded once)")->required();
  serve->add_option("--config", o->model.config_yaml, "LDM yaml config (default: FILE.yaml beside the checkpoint)");
  serve->add_option("--tokenizer", o->model.tokenizer_dir, "folder with vocab.json and merges.txt (default: searched "
                    "beside the model)");
  serve->add_option("--prediction", o->model.prediction_type, "epsilon | v_prediction (default: from the model)");
  serve->add_option("--threads", o->model.threads, fmt::format("CPU threads (default {}: all)", o->model.threads));
  serve->add_option("--device", o->model.device, fmt::format("cpu | cuda | cuda:N (default {})", o->model.device));
  serve->add_option("--precision", o->model.precision,
                    fmt::format("fp32 | fp16 | bf16 (CUDA compute precision; default {})", o->model.precision))
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}));
  serve->add_option("--lora-dir", o->lora_dir, "folder of LoRAs requests may name (nothing outside it is reachable; "
                    "default: none, LoRA requests are refused)");
  serve->add_option("--lora-mode", *lora_mode, fmt::format("fuse | runtime | auto (default {})", *lora_mode))
      ->check(CLI::IsMember({"fuse", "runtime", "auto"}));
  serve->add_option("--host", o->host, fmt::format("address to bind (default {}: this machine only; 0.0.0.0: every "
                                                   "interface)", o->host));
  serve->add_option("--port", o->port, fmt::format("port (default {}; 0 = any free port; the URL is printed)", o->port))
      ->check(CLI::Range(0, 65535));
  serve->add_option("--queue", o->queue,
                    fmt::format("jobs that may wait behind the running one; more get 429 (default {})", o->queue))
      ->check(CLI::Range(1, 10000));
  serve->add_option("--keep-jobs", o->keep_jobs,
                    fmt::format("finished jobs (and their images) kept for GET /v1/jobs/{{id}} (default {})",
                                o->keep_jobs))
      ->check(CLI::Range(1, 100000));
  serve->add_option("--output-dir", o->output_dir, "keep every PNG here (default: a temporary folder removed on exit)");
  serve->add_option("--http-threads", o->http_threads,
                    fmt::format("HTTP worker threads (default {}: --queue + 8)", o->http_threads))
      ->check(CLI::Range(0, 4096));
  serve->add_flag("--access-log", o->access_log, "log every request to stderr (default off)");
  serve->footer(
      "Examples:\n"
      "  lorastack serve -m sd15.safetensors --lora-dir loras/      # http://127.0.0.1:7860, this machine only\n"
      "  lorastack serve -m sd15.safetensors --lora-dir loras/ --device cuda --host 0.0.0.0 --port 8080\n"
      "  curl -s localhost:7860/sdapi/v1/txt2img -d '{\"prompt\": \"a castle <lora:ink:0.8>\", \"steps\": 20}'\n"
      "  curl -s localhost:7860/v1/jobs \\\n"
      "      -d '{\"prompt\": \"a fox\", \"loras\": [{\"name\": \"ink\", \"strength\": 0.8}]}'\n"
      "  curl -s -X POST localhost:7860/sdapi/v1/interrupt         # stop the running job\n"
      "The web page is at the printed URL; Ctrl-C (SIGINT) or SIGTERM stops the server. docs/server.md lists every "
      "endpoint.");
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
