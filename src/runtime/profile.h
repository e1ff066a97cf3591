// Op-level wall-time profile of the runtime, for finding where a step's time goes on machines without nsys or
// perf (the lent GPU machine has neither). With LORASTACK_PROFILE=1 in the environment every public op
// (runtime/ops.h), dtype cast, device copy and recorded backward function (LS_PROFILE) and every phase of a
// training step or a generation (LS_PROFILE_PHASE in the trainer and the engine) is timed. Ops and phases are
// counted apart: the outermost op scope of a thread measures (nested ops count toward their caller); phases
// always measure (a phase's time includes the phases inside it). When the CUDA device is in use it is synchronised at the end of each measured scope, so
// kernel time lands in the op that launched it (profiling therefore slows GPU runs: compare shares, not totals).
// Two tables — phases, then ops; name, calls, total ms, mean µs, share of the table — go to stderr at exit (or
// on report()).
// Off (the default): one predictable branch per op.
#pragma once

namespace ls::profile {

/// True when LORASTACK_PROFILE is set to something other than "" or "0" (read once).
bool enabled();

/// Times its lifetime under `name` (a string literal or another string that outlives the program); `suffix`
/// (may be null, e.g. " backward") is appended in the table. Sets current_op() for its lifetime.
class Scope {
 public:
  /// `phase`: a step of a caller (training step part, sampler host math) rather than a runtime op.
  explicit Scope(const char* name, const char* suffix = nullptr, bool phase = false);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* name_;
  const char* suffix_;
  const char* prev_;
  long long t0_ = 0;
  bool measuring_ = false;
  bool phase_ = false;
};

/// The innermost Scope's name on this thread ("" outside any): autograd labels recorded backward functions
/// with it.
const char* current_op();

/// Print the table now (stderr) and clear it.
void report();

}  // namespace ls::profile

#define LS_PROFILE_CAT2(a, b) a##b
#define LS_PROFILE_CAT(a, b) LS_PROFILE_CAT2(a, b)
/// Time the rest of the enclosing block under `name` when profiling is on.
#define LS_PROFILE(name) ::ls::profile::Scope LS_PROFILE_CAT(ls_profile_scope_, __LINE__)(name)
/// Time the rest of the enclosing block as the phase `name` (its ops are also counted as ops).
#define LS_PROFILE_PHASE(name) ::ls::profile::Scope LS_PROFILE_CAT(ls_profile_phase_, __LINE__)(name, nullptr, true)
