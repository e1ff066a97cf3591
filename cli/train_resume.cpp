// `lorastack train --resume`: what the saved state says about the run that wrote it (src/train/trainer.cpp writes
// OUTPUT.state/network.safetensors — the kohya-named adapter tensors, F32, with ls_step — and optimizer.safetensors),
// compared with this run's options, so a mismatch is named before the model loads.
#include "train_resume.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "io/safetensors.h"
#include "runtime/error.h"

namespace fs = std::filesystem;

namespace {

/// A module's kohya name ("lora_unet_..._resnets_0_conv1") names a 3×3 convolution (src/train/network.cpp gives
/// those --conv-rank / --conv-alpha): ResNet conv1 / conv2, down- and upsampler convs.
bool conv3x3_module(const std::string& m) {
  auto ends = [&](const char* s) {
    const size_t n = std::strlen(s);
    return m.size() >= n && m.compare(m.size() - n, n, s) == 0;
  };
  if (m.find("_resnets_") != std::string::npos) return ends("_conv1") || ends("_conv2");
  return m.find("_downsamplers_") != std::string::npos || m.find("_upsamplers_") != std::string::npos;
}

/// The options a saved network was trained with, as far as its tensors tell (0 / "" = unknown).
struct Saved {
  std::string network;
  int rank = 0, conv_rank = 0;  ///< from a module whose rank is below its size cap (else unknown)
  float alpha = 0, conv_alpha = 0;
  bool unet = false, te = false, conv_modules = false;
};

Saved describe(const ls::io::TensorFile& f) {
  Saved s;
  bool hada = false, lokr = false, dora = false, lora = false;
  std::map<std::string, std::map<std::string, ls::Shape>> modules;  // module → suffix → shape
  std::map<std::string, float> alphas;
  for (const auto& [key, t] : f.tensors) {
    if (key.rfind("lora_unet_", 0) == 0 || key.rfind("unet.", 0) == 0) s.unet = true;
    if (key.rfind("lora_te_", 0) == 0 || key.rfind("text_encoder.", 0) == 0) s.te = true;
    const size_t dot = key.find('.');
    if (dot == std::string::npos || key.rfind("lora_", 0) != 0) continue;
    const std::string module = key.substr(0, dot), suffix = key.substr(dot + 1);
    if (suffix == "alpha" && t.numel() == 1) {
      alphas[module] = t.to(ls::DType::F32).f32()[0];
      continue;
    }
    modules[module][suffix] = t.shape();
    hada = hada || suffix == "hada_w1_a";
    lokr = lokr || suffix == "lokr_w1";
    dora = dora || suffix == "dora_scale";
    lora = lora || suffix == "lora_down.weight";
  }
  if (hada) s.network = "loha";
  else if (lokr) s.network = "lokr";
  else if (dora) s.network = "dora";
  else if (lora) s.network = "lora";  // "locon" when it has conv modules (below)
  else if (s.unet || s.te) s.network = "full";
  for (const auto& [m, ts] : modules) {
    const bool conv = conv3x3_module(m);
    if (m.find("_resnets_") != std::string::npos || conv) s.conv_modules = true;
    // (rank, the size it is capped at: min(out, in)); rank == cap says nothing about the configured rank
    int64_t r = 0, cap = 0;
    if (ts.count("lora_down.weight") && ts.count("lora_up.weight")) {
      r = ts.at("lora_down.weight")[0];
      cap = std::min(ts.at("lora_up.weight")[0], ts.at("lora_down.weight")[1]);
    } else if (ts.count("hada_w1_a") && ts.count("hada_w1_b")) {  // [out, r], [r, in·k·k]
      r = ts.at("hada_w1_a")[1];
      cap = std::min(ts.at("hada_w1_a")[0], ts.at("hada_w1_b")[1] / (conv ? 9 : 1));
    } else if (ts.count("lokr_w2_a") && ts.count("lokr_w2_b")) {  // [out/f, r], [r, in/f·k·k]
      r = ts.at("lokr_w2_a")[1];
      cap = std::min(ts.at("lokr_w2_a")[0], ts.at("lokr_w2_b")[1]);
    }
    if (r > 0 && r < cap) (conv ? s.conv_rank : s.rank) = static_cast<int>(r);
    if (auto a = alphas.find(m); a != alphas.end()) (conv ? s.conv_alpha : s.alpha) = a->second;
  }
  if (s.network == "lora" && s.conv_modules) s.network = "locon";
  return s;
}

std::string optimizer_of(const ls::io::TensorFile& f) {
  for (const auto& [key, t] : f.tensors)
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".m_q") == 0) return "adamw8bit";
  if (f.tensors.count("d")) return "prodigy";
  for (const auto& [key, t] : f.tensors)
    if (key.size() > 8 && key.compare(key.size() - 8, 8, ".exp_avg") == 0) return "adamw";
  return "";  // no moments yet (saved at step 0) or unknown
}

std::string num(float v) { return fmt::format("{}", v); }

}  // namespace

void check_resume_state(const lorastack::TrainOptions& o) {
  if (o.resume.empty()) return;
  const std::string& dir = o.resume;
  const std::string fresh = "run without --resume to start over";
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (fs::is_directory(dir + ".state", ec))
      ls::fail("--resume {}: no such folder; the resume state is the folder {}.state (give --resume {}.state)", dir, dir,
               dir);
    ls::fail("--resume {}: no such folder; --resume takes the OUTPUT.state folder a run with --save-every N writes, "
             "or {}", dir, fresh);
  }
  if (!fs::is_directory(dir, ec)) {
    if (fs::is_directory(dir + ".state", ec))
      ls::fail("--resume {}: a file, not a state folder; give --resume {}.state", dir, dir);
    ls::fail("--resume {}: a file, not a state folder; --resume takes the OUTPUT.state folder a run with "
             "--save-every N writes, or {}", dir, fresh);
  }
  const std::string net_path = dir + "/network.safetensors", opt_path = dir + "/optimizer.safetensors";
  const bool has_net = fs::is_regular_file(net_path, ec), has_opt = fs::is_regular_file(opt_path, ec);
  if (!has_net && !has_opt)
    ls::fail("--resume {}: no resume state in this folder (no network.safetensors, no optimizer.safetensors); a run "
             "writes it to OUTPUT.state every --save-every N steps; {}", dir, fresh);
  if (!has_net || !has_opt)
    ls::fail("--resume {}: incomplete resume state ({} is missing; was the run stopped while saving?); {}", dir,
             has_net ? "optimizer.safetensors" : "network.safetensors", fresh);
  ls::io::TensorFile net, opt;
  try {
    net = ls::io::read_safetensors(net_path);
    opt = ls::io::read_safetensors(opt_path);
  } catch (const std::exception& e) {
    ls::fail("--resume {}: the resume state cannot be read ({}); {}", dir, e.what(), fresh);
  }
  auto step_it = net.metadata.find("ls_step");
  int step = -1;
  if (step_it != net.metadata.end()) {
    try {
      step = std::stoi(step_it->second);
    } catch (const std::exception&) {
    }
  }
  if (step < 0)
    ls::fail("--resume {}: {} has no step count (ls_step): not a state lorastack train wrote; {}", dir, net_path, fresh);
  if (step >= o.steps)
    ls::fail("--resume {}: the state is at step {}, and --steps is {}; give --steps above {} to train further", dir,
             step, o.steps, step);

  const Saved s = describe(net);
  const std::string want_net = o.network;
  std::vector<std::pair<std::string, std::string>> diff;  // (saved, this run) option pairs
  if (!s.network.empty() && s.network != want_net) diff.push_back({"--network " + s.network, "--network " + want_net});
  if (s.network == want_net && want_net != "full") {
    if (s.rank > 0 && s.rank != o.rank) diff.push_back({fmt::format("--rank {}", s.rank), fmt::format("--rank {}", o.rank)});
    if (s.alpha > 0 && s.alpha != o.alpha) diff.push_back({"--alpha " + num(s.alpha), "--alpha " + num(o.alpha)});
    const int conv_rank = o.conv_rank > 0 ? o.conv_rank : o.rank;
    const float conv_alpha = o.conv_alpha > 0 ? o.conv_alpha : o.alpha;
    if (s.conv_rank > 0 && s.conv_rank != conv_rank)
      diff.push_back({fmt::format("--conv-rank {}", s.conv_rank), fmt::format("--conv-rank {}", conv_rank)});
    if (s.conv_alpha > 0 && s.conv_alpha != conv_alpha)
      diff.push_back({"--conv-alpha " + num(s.conv_alpha), "--conv-alpha " + num(conv_alpha)});
  }
  auto parts = [](bool unet, bool te) {
    return unet && te ? std::string("UNet and text encoder (neither --unet-only nor --text-encoder-only)")
           : unet     ? std::string("--unet-only")
                      : std::string("--text-encoder-only");
  };
  const bool want_unet = !o.text_encoder_only, want_te = !o.unet_only;
  if ((s.unet || s.te) && (s.unet != want_unet || s.te != want_te))
    diff.push_back({parts(s.unet, s.te), parts(want_unet, want_te)});
  const std::string saved_opt = optimizer_of(opt);
  if (!saved_opt.empty() && saved_opt != o.optimizer)
    diff.push_back({"--optimizer " + saved_opt, "--optimizer " + o.optimizer});
  if (diff.empty()) return;
  std::string saved, now;
  for (const auto& [a, b] : diff) {
    saved += (saved.empty() ? "" : ", ") + a;
    now += (now.empty() ? "" : ", ") + b;
  }
  ls::fail("--resume {}: the state was saved with {}, this run has {}; give the saved run's options to resume, or {}",
           dir, saved, now, fresh);
}

std::string with_resume_hint(const lorastack::TrainOptions& o, const std::string& message) {
  if (o.resume.empty() || message.find("resume:") == std::string::npos) return message;
  return message + " (--resume " + o.resume + ": the state was saved with other --network / --rank / --conv-rank / "
         "--unet-only / --text-encoder-only / --optimizer options; give the saved run's options, or run without "
         "--resume to start over)";
}
