// runtime/profile.h: per-name totals under a mutex, printed at exit.
#include "runtime/profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#ifdef LORASTACK_HAS_CUDA
#include "runtime/cuda/backend.h"
#endif

namespace ls::profile {
namespace {

struct Entry {
  long long calls = 0;
  long long ns = 0;
};

void print_rows(const char* title, std::map<std::string, Entry>& rows) {
  if (rows.empty()) return;
  std::vector<std::pair<std::string, Entry>> v(rows.begin(), rows.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  long long all = 0;
  for (const auto& [n, e] : v) all += e.ns;
  std::fprintf(stderr, "lorastack profile, %s: %.1f ms measured\n%-40s %10s %12s %12s %7s\n", title, all / 1e6,
               "name", "calls", "total ms", "mean us", "share");
  for (const auto& [n, e] : v)
    std::fprintf(stderr, "%-40s %10lld %12.2f %12.1f %6.1f%%\n", n.c_str(), e.calls, e.ns / 1e6,
                 e.ns / 1e3 / static_cast<double>(e.calls), 100.0 * e.ns / static_cast<double>(all));
  rows.clear();
}

struct Table {
  std::mutex mu;
  std::map<std::string, Entry> phases, ops;
  ~Table() { print(); }
  void print() {
    std::lock_guard<std::mutex> lock(mu);
    print_rows("phases (a phase's time includes the phases inside it)", phases);
    print_rows("ops (outermost op scopes; backward = the recorded adjoint)", ops);
  }
};

Table& table() {
  static Table t;
  return t;
}

thread_local int op_depth = 0;
thread_local const char* current = "";

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void sync_device() {
#ifdef LORASTACK_HAS_CUDA
  if (cuda::peak_bytes() > 0) cuda::synchronize();  // only once something lives on the GPU
#endif
}

}  // namespace

bool enabled() {
  static const bool on = [] {
    const char* e = std::getenv("LORASTACK_PROFILE");
    const bool v = e && *e && std::string(e) != "0";
    if (v) (void)table();  // constructed first, so destroyed (and printed) late
    return v;
  }();
  return on;
}

Scope::Scope(const char* name, const char* suffix, bool phase)
    : name_(name), suffix_(suffix), prev_(current), phase_(phase) {
  if (!enabled()) return;
  if (!phase) current = name;
  if (phase || op_depth++ == 0) {  // phases always measure (they may nest); ops only the outermost
    measuring_ = true;
    sync_device();
    t0_ = now_ns();
  }
}

Scope::~Scope() {
  if (!enabled()) return;
  if (!phase_) current = prev_;
  if (!phase_) --op_depth;
  if (!measuring_) return;
  try {
    sync_device();
  } catch (...) {  // a pending device error surfaces at the next checked call, not in a destructor
  }
  const long long dt = now_ns() - t0_;
  std::string key = name_;
  if (suffix_) key += suffix_;
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  Entry& e = (phase_ ? t.phases : t.ops)[key];
  ++e.calls;
  e.ns += dt;
}

const char* current_op() { return current; }

void report() { table().print(); }

}  // namespace ls::profile
