// Thread-count control shared by the OpenMP kernels and OpenBLAS.
#include <cblas.h>
#include <omp.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "runtime/cpu/kernels.h"

namespace ls::cpu {
namespace {

int initial_threads() {
  if (const char* env = std::getenv("LORASTACK_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

/// OpenBLAS chooses its kernels from the CPU model at load time; unknown models (common in VMs) fall back
/// to SSE3 "Prescott" kernels that run GEMMs ~3× slower on AVX2 hardware (measured: conv2d 3×3 at 320
/// channels, 28 → 76 GFLOP/s per core with OPENBLAS_CORETYPE=Haswell). Warn once so users can set it.
void warn_if_generic_blas_kernels() {
#if defined(__x86_64__) && defined(__GNUC__)
  std::string core = openblas_get_corename();
  for (char& ch : core) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const bool generic = core == "prescott" || core == "core2" || core == "penryn" || core == "nehalem" ||
                       core == "atom" || core == "katmai" || core == "northwood" || core == "banias";
  if (generic && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    std::fprintf(stderr,
                 "lorastack: OpenBLAS selected '%s' kernels on a CPU with AVX2/FMA (unrecognised CPU model, "
                 "e.g. a VM); GEMMs will be ~3x slower. Set OPENBLAS_CORETYPE=Haswell (SkylakeX with AVX-512) "
                 "in the environment before starting.\n",
                 openblas_get_corename());
#endif
}

int& thread_count() {
  static int n = [] {
    warn_if_generic_blas_kernels();
    int t = initial_threads();
    openblas_set_num_threads(t);
    return t;
  }();
  return n;
}

}  // namespace

int threads() { return thread_count(); }

void set_threads(int n) {
  if (n < 1) n = 1;
  thread_count() = n;
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
}

}  // namespace ls::cpu
