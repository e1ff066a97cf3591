#include "toolbox/resize.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "adapters/adapter_file.h"
#include "toolbox/inspect.h"
#include "toolbox/linalg.h"
#include "toolbox/lora_names.h"

namespace ls::toolbox {

namespace {
constexpr double kMinSV = 1e-6;  // kohya resize_lora MIN_SV
}

DynamicMethod parse_dynamic_method(const std::string& s) {
  if (s.empty() || s == "none") return DynamicMethod::None;
  if (s == "sv_ratio") return DynamicMethod::SvRatio;
  if (s == "sv_fro") return DynamicMethod::SvFro;
  if (s == "sv_cumulative") return DynamicMethod::SvCumulative;
  fail("unknown --dynamic method '{}': use sv_ratio, sv_fro or sv_cumulative", s);
}

int64_t choose_rank(const std::vector<double>& S, int64_t max_rank, DynamicMethod method, double param) {
  LS_CHECK(!S.empty(), "choose_rank: no singular values");
  LS_CHECK(max_rank >= 1, "rank {} must be at least 1", max_rank);
  int64_t n = static_cast<int64_t>(S.size());
  int64_t r = max_rank;
  switch (method) {
    case DynamicMethod::None: break;
    case DynamicMethod::SvRatio: {
      LS_CHECK(param >= 1.0, "sv_ratio parameter {} must be ≥ 1 (keep σ > σmax / P)", param);
      double floor = S[0] / param;
      r = std::count_if(S.begin(), S.end(), [&](double s) { return s > floor; });
      break;
    }
    case DynamicMethod::SvCumulative:
    case DynamicMethod::SvFro: {
      LS_CHECK(param > 0.0 && param <= 1.0, "{} parameter {} must be in (0, 1]",
               method == DynamicMethod::SvFro ? "sv_fro" : "sv_cumulative", param);
      bool fro = method == DynamicMethod::SvFro;
      double total = 0;
      for (double s : S) total += fro ? s * s : s;
      double target = (fro ? param * param : param) * total;
      double acc = 0;
      r = n;
      for (int64_t i = 0; i < n; ++i) {
        acc += fro ? S[i] * S[i] : S[i];
        if (acc >= target * (1 - 1e-12)) {
          r = i + 1;
          break;
        }
      }
      break;
    }
  }
  if (S[0] <= kMinSV) return 1;
  return std::clamp<int64_t>(r, 1, std::min(max_rank, n));
}

ResizeReport resize_adapter(const std::string& in, const ResizeOptions& opts, const std::string& out) {
  LS_CHECK(opts.rank >= 1, "--rank {} must be at least 1", opts.rank);
  LS_CHECK(opts.conv_rank >= 0, "--conv-rank {} must not be negative", opts.conv_rank);
  adapters::AdapterFile af = adapters::read_adapter(in);
  const NameModel& names = name_model(layout_family(af.family_guess, in));
  std::vector<LowRankModule> mods = lowrank_modules(af, names);
  ResizeReport rep;
  double fro_sum = 0;
  for (LowRankModule& m : mods) {
    bool spatial = m.down.ndim() == 4 && m.down.dim(2) * m.down.dim(3) > 1;
    int64_t bound = spatial && opts.conv_rank > 0 ? opts.conv_rank : opts.rank;
    float scale = m.scale();
    SVD s = svd(lowrank_product(m.up, m.down));
    int64_t r = std::min(choose_rank(s.S, bound, opts.method, opts.param), m.rank());
    double kept = 0, total = 0;
    for (int64_t i = 0; i < s.k; ++i) {
      total += s.S[i] * s.S[i];
      if (i < r) kept += s.S[i] * s.S[i];
    }
    double fro = total > 0 ? std::sqrt(kept / total) : 1.0;
    fro_sum += fro;
    rep.min_fro_retained = std::min(rep.min_fro_retained, fro);
    Tensor up, down;
    truncate(s, r, up, down);
    Shape ds = m.down.shape(), us = m.up.shape();
    ds[0] = r;
    us[1] = r;
    m.down = down.reshape(ds).to(opts.dtype);
    m.up = up.reshape(us).to(opts.dtype);
    m.alpha = scale * static_cast<float>(r);
    rep.new_ranks[r]++;
    rep.modules++;
  }
  rep.mean_fro_retained = rep.modules ? fro_sum / rep.modules : 1.0;

  std::map<std::string, std::string> md = af.metadata;
  md.erase("lora_adapter_metadata");
  md.erase("format");
  md.erase("sshs_legacy_hash");
  md["ss_network_module"] = md.count("ss_network_module") ? md["ss_network_module"] : "networks.lora";
  bool dynamic = opts.method != DynamicMethod::None;
  md["ss_network_dim"] = dynamic ? "Dynamic" : std::to_string(opts.rank);
  if (!mods.empty()) md["ss_network_alpha"] = dynamic ? "Dynamic" : fmt::format("{}", mods.front().alpha);
  md["ss_training_comment"] =
      fmt::format("rank resized to {} by lorastack{}", dynamic ? std::string("dynamic") : std::to_string(opts.rank),
                  md.count("ss_training_comment") ? "; " + md["ss_training_comment"] : std::string());
  write_kohya_with_hashes(out, mods, md);
  return rep;
}

}  // namespace ls::toolbox
