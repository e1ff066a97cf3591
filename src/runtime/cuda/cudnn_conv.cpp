// cuDNN convolutions (runtime/cuda/cudnn_conv.h) and the conv-backend switch of runtime/cuda/backend.h.
//
// One cuDNN handle on the legacy default stream (the backend's only stream). Per (direction, dtype, shape) a
// Plan holds the tensor / filter / convolution descriptors and the algorithm cudnnFind*AlgorithmEx timed fastest
// on the first call (on the real buffers; the output is overwritten afterwards), with the math type it reported.
// Candidates: F32 uses CUDNN_FMA_MATH (no TF32) and only the GEMM-like algorithms, whose results match the
// im2col GEMM path to fp32 rounding; F16 / BF16 use tensor cores with fp32 accumulation
// (CUDNN_DATA_FLOAT compute type) and every algorithm but FFT. A shape cuDNN cannot run is remembered as such
// (one warning on stderr) and falls back to im2col.
//
// run_conv's Auto mode exists because neither path wins everywhere on NCHW data. On the H200 (fp16) cuDNN ran the
// 3×3 convolutions at 32² – 64² 1.6–6× faster than im2col + cuBLAS (VAE, 128² – 512²: 4–18×), but its 1×1 and 8² – 16²
// convolutions cost 0.06–0.24 ms where one cuBLAS GEMM took 0.015–0.07 ms, so cuDNN for every shape made the UNet
// step slower (30.7 ms against 25.5 ms) while the per-shape pick made it faster (20.9 ms); bench/cuda_notes.md.
// LORASTACK_CONV_LOG=1 prints each decision.
#ifdef LORASTACK_HAS_CUDA

#include "runtime/cuda/cudnn_conv.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "runtime/cuda/backend.h"
#include "runtime/cuda/common.h"

#ifdef LORASTACK_HAS_CUDNN
#include <cudnn.h>

#include <climits>
#endif

namespace ls::cuda {
namespace {

std::atomic<ConvMode>& mode_flag() {
  static std::atomic<ConvMode> m{[] {
    const char* e = std::getenv("LORASTACK_CONV");
    const std::string v = e ? e : "";
    return v == "im2col" ? ConvMode::Im2col : v == "cudnn" ? ConvMode::Cudnn : ConvMode::Auto;
  }()};
  return m;
}

const char* dir_name(ConvDir d) {
  return d == ConvDir::Forward ? "forward" : d == ConvDir::BackwardData ? "backward-data" : "backward-filter";
}

using Key = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int>;
Key key_of(ConvDir d, DType dt, const cpu::ConvShape& s) {
  return Key{static_cast<int>(d), static_cast<int>(dt), s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.pad,
             s.groups};
}

/// Auto mode's decisions: 1 = cuDNN, 2 = im2col (absent: not timed yet).
struct Choices {
  std::mutex m;
  std::map<Key, int> chosen;
};
Choices& choices() {
  static Choices* c = new Choices;
  return *c;
}

/// Milliseconds of device time `f` takes on the legacy default stream (-1 when f returns false).
float time_ms(const std::function<bool()>& f) {
  cudaEvent_t a = nullptr, b = nullptr;
  check(cudaEventCreate(&a), "cudaEventCreate");
  check(cudaEventCreate(&b), "cudaEventCreate");
  check(cudaEventRecord(a, nullptr), "cudaEventRecord");
  const bool ok = f();
  check(cudaEventRecord(b, nullptr), "cudaEventRecord");
  check(cudaEventSynchronize(b), "cudaEventSynchronize");
  float ms = 0.0f;
  check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ok ? ms : -1.0f;
}

}  // namespace

void set_conv_mode(ConvMode m) { mode_flag() = m; }
ConvMode conv_mode() { return mode_flag(); }

void run_conv(ConvDir dir, DType dt, const cpu::ConvShape& s, const std::function<bool()>& cudnn,
              const std::function<void()>& im2col) {
  const ConvMode mode = conv_mode();
  if (mode == ConvMode::Im2col) return im2col();
  if (mode == ConvMode::Cudnn) {
    if (!cudnn()) im2col();
    return;
  }
  const Key key = key_of(dir, dt, s);
  int c = 0;
  {
    Choices& ch = choices();
    std::lock_guard<std::mutex> lock(ch.m);
    auto it = ch.chosen.find(key);
    if (it != ch.chosen.end()) c = it->second;
  }
  if (c == 1 && cudnn()) return;
  if (c != 0) return im2col();
  // first call of this shape: cuDNN once (its algorithm search), then time one run of each path
  int pick = 2;
  if (cudnn()) {
    const float tc = time_ms(cudnn);
    im2col();  // warm-up (cuBLAS heuristics, allocator)
    const float ti = time_ms([&] {
      im2col();
      return true;
    });
    pick = tc >= 0.0f && tc <= ti ? 1 : 2;
    if (std::getenv("LORASTACK_CONV_LOG"))
      std::fprintf(stderr, "lorastack: conv2d %s %s c%lld→o%lld k%lld s%d @%lldx%lld n%lld: cuDNN %.3f ms, im2col %.3f ms\n",
                   dir_name(dir), dtype_name(dt), static_cast<long long>(s.c), static_cast<long long>(s.o),
                   static_cast<long long>(s.kh), s.stride, static_cast<long long>(s.h), static_cast<long long>(s.w),
                   static_cast<long long>(s.n), tc, ti);
    if (pick == 1 && !cudnn()) pick = 2;  // leave the cuDNN result in the output (the last run was im2col's)
  }
  if (pick == 2) im2col();
  Choices& ch = choices();
  std::lock_guard<std::mutex> lock(ch.m);
  ch.chosen[key] = pick;
}

#ifndef LORASTACK_HAS_CUDNN

std::string conv_backend() { return "im2col + cuBLAS (built without cuDNN)"; }
bool cudnn_conv_forward(DType, const void*, const void*, const void*, void*, const cpu::ConvShape&) { return false; }
bool cudnn_conv_backward_data(DType, const void*, const void*, void*, const cpu::ConvShape&) { return false; }
bool cudnn_conv_backward_filter(DType, const void*, const void*, void*, const cpu::ConvShape&) { return false; }

#else

namespace {

struct Library {
  cudnnHandle_t handle = nullptr;
  std::string error;  ///< why there is no handle
  size_t version = 0;
};

/// The process's cuDNN handle, made on first use (never destroyed: convolutions may run during static
/// destruction of tensors' owners, and the driver reclaims it at exit).
Library& library() {
  static Library lib = [] {
    Library l;
    const size_t v = cudnnGetVersion();
    if (v / 10000 != CUDNN_MAJOR) {
      l.error = "cuDNN " + std::to_string(v) + " loaded, built against major version " + std::to_string(CUDNN_MAJOR);
      return l;
    }
    const cudnnStatus_t s = cudnnCreate(&l.handle);
    if (s != CUDNN_STATUS_SUCCESS) {
      l.handle = nullptr;
      l.error = std::string("cudnnCreate failed: ") + cudnnGetErrorString(s);
      return l;
    }
    cudnnSetStream(l.handle, nullptr);
    l.version = v;
    return l;
  }();
  return lib;
}

struct Plan {
  bool ok = false;
  cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
  cudnnFilterDescriptor_t wd = nullptr;
  cudnnConvolutionDescriptor_t cd = nullptr;
  int algo = 0;
  size_t workspace = 0;
};

struct Cache {
  std::mutex m;  // guards the plans and serialises use of the handle
  std::map<Key, Plan> plans;
};
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

cudnnDataType_t data_type(DType dt) {
  return dt == DType::F16 ? CUDNN_DATA_HALF : dt == DType::BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

/// One warning line on stderr (per plan): the shape falls back to im2col.
void warn(ConvDir d, DType dt, const cpu::ConvShape& s, const char* what, cudnnStatus_t st) {
  std::fprintf(stderr,
               "lorastack: cuDNN conv2d %s %s x[%lld,%lld,%lld,%lld] w[%lld,%lld,%lld,%lld] stride %d pad %d groups %d: "
               "%s (%s); using im2col + cuBLAS\n",
               dir_name(d), dtype_name(dt), static_cast<long long>(s.n), static_cast<long long>(s.c),
               static_cast<long long>(s.h), static_cast<long long>(s.w), static_cast<long long>(s.o),
               static_cast<long long>(s.c / s.groups), static_cast<long long>(s.kh), static_cast<long long>(s.kw),
               s.stride, s.pad, s.groups, what, cudnnGetErrorString(st));
}

/// F32: exact GEMM-like algorithms only; F16/BF16: all but FFT (poor half-precision accuracy).
bool allowed(ConvDir d, DType dt, int algo) {
  const bool f32 = dt == DType::F32;
  switch (d) {
    case ConvDir::Forward:
      if (algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT || algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING) return false;
      return !f32 || algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
             algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM ||
             algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
    case ConvDir::BackwardData:
      if (algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING)
        return false;
      return !f32 || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
    case ConvDir::BackwardFilter:
      if (algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING)
        return false;
      return !f32 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
             algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  }
  return false;
}

/// Scratch bytes offered to the algorithm search (and so the most a chosen algorithm may use).
size_t search_workspace_limit() {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return std::min<size_t>(size_t{512} << 20, free_b / 4);
}

bool fits_int(const cpu::ConvShape& s) {
  const int64_t big = INT_MAX;
  return s.n * s.c * s.h * s.w < big && s.n * s.o * s.oh * s.ow < big && s.o * (s.c / s.groups) * s.kh * s.kw < big;
}

/// Descriptors for shape s. Returns the failing status or CUDNN_STATUS_SUCCESS.
cudnnStatus_t describe(Plan& p, DType dt, const cpu::ConvShape& s) {
  const cudnnDataType_t t = data_type(dt);
  cudnnStatus_t st;
  if ((st = cudnnCreateTensorDescriptor(&p.xd)) != CUDNN_STATUS_SUCCESS) return st;
  if ((st = cudnnCreateTensorDescriptor(&p.yd)) != CUDNN_STATUS_SUCCESS) return st;
  if ((st = cudnnCreateFilterDescriptor(&p.wd)) != CUDNN_STATUS_SUCCESS) return st;
  if ((st = cudnnCreateConvolutionDescriptor(&p.cd)) != CUDNN_STATUS_SUCCESS) return st;
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  if ((st = cudnnSetTensor4dDescriptor(p.xd, CUDNN_TENSOR_NCHW, t, i(s.n), i(s.c), i(s.h), i(s.w))) !=
      CUDNN_STATUS_SUCCESS)
    return st;
  if ((st = cudnnSetTensor4dDescriptor(p.yd, CUDNN_TENSOR_NCHW, t, i(s.n), i(s.o), i(s.oh), i(s.ow))) !=
      CUDNN_STATUS_SUCCESS)
    return st;
  if ((st = cudnnSetFilter4dDescriptor(p.wd, t, CUDNN_TENSOR_NCHW, i(s.o), i(s.c / s.groups), i(s.kh), i(s.kw))) !=
      CUDNN_STATUS_SUCCESS)
    return st;
  if ((st = cudnnSetConvolution2dDescriptor(p.cd, s.pad, s.pad, s.stride, s.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT)) != CUDNN_STATUS_SUCCESS)
    return st;
  if ((st = cudnnSetConvolutionGroupCount(p.cd, s.groups)) != CUDNN_STATUS_SUCCESS) return st;
  return cudnnSetConvolutionMathType(p.cd, dt == DType::F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH);
}

/// Times the candidates on the given buffers (a = x / gy / x, b = w / w / gy, out = y / gx / gw per direction)
/// and fills p.algo / p.workspace / the descriptor's math type. Returns the failing status, or
/// CUDNN_STATUS_NOT_SUPPORTED when no allowed candidate ran.
template <typename Perf, typename FindFn>
cudnnStatus_t choose(Plan& p, ConvDir d, DType dt, FindFn&& find) {
  constexpr int kMax = 16;
  Perf perf[kMax];
  int n = 0;
  size_t limit = search_workspace_limit();
  void* scratch = nullptr;
  if (limit && cudaMalloc(&scratch, limit) != cudaSuccess) {
    (void)cudaGetLastError();
    scratch = nullptr;
    limit = 0;
  }
  const cudnnStatus_t st = find(kMax, &n, perf, scratch, limit);
  if (scratch) cudaFree(scratch);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  for (int i = 0; i < n; ++i) {  // sorted fastest first
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > limit || !allowed(d, dt, perf[i].algo)) continue;
    if (dt == DType::F32 && perf[i].mathType != CUDNN_FMA_MATH) continue;  // DEFAULT_MATH may use TF32
    p.algo = static_cast<int>(perf[i].algo);
    p.workspace = perf[i].memory;
    return cudnnSetConvolutionMathType(p.cd, perf[i].mathType);
  }
  return CUDNN_STATUS_NOT_SUPPORTED;
}

/// Runs `fn(plan, workspace)` for the cached (or newly found) plan of (d, dt, s). `find(plan)` makes a new plan's
/// choice. False (after one warning per plan) when cuDNN cannot do it.
template <typename FindFn, typename RunFn>
bool with_plan(ConvDir d, DType dt, const cpu::ConvShape& s, FindFn&& find, RunFn&& run) {
  if (!fits_int(s)) return false;
  Library& lib = library();
  if (!lib.handle) return false;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.m);
  const Key key = key_of(d, dt, s);
  auto it = c.plans.find(key);
  if (it == c.plans.end()) {
    Plan p;
    cudnnStatus_t st = describe(p, dt, s);
    if (st != CUDNN_STATUS_SUCCESS) warn(d, dt, s, "descriptor setup failed", st);
    if (st == CUDNN_STATUS_SUCCESS) {
      st = find(p, lib.handle);
      if (st != CUDNN_STATUS_SUCCESS) warn(d, dt, s, "no algorithm", st);
    }
    p.ok = st == CUDNN_STATUS_SUCCESS;
    it = c.plans.emplace(key, p).first;
  }
  Plan& p = it->second;
  if (!p.ok) return false;
  std::shared_ptr<Storage> ws = p.workspace ? alloc(p.workspace) : nullptr;
  const cudnnStatus_t st = run(p, lib.handle, ws ? ws->data : nullptr);
  if (st != CUDNN_STATUS_SUCCESS) {
    warn(d, dt, s, "execution failed", st);
    p.ok = false;
    return false;
  }
  return true;
}

}  // namespace

std::string conv_backend() {
  const Library& lib = library();
  if (!lib.handle) return "im2col + cuBLAS (" + lib.error + ")";
  const size_t v = lib.version;
  return "cuDNN " + std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}

bool cudnn_conv_forward(DType dt, const void* x, const void* w, const void* bias, void* y, const cpu::ConvShape& s) {
  return with_plan(
      ConvDir::Forward, dt, s,
      [&](Plan& p, cudnnHandle_t h) {
        return choose<cudnnConvolutionFwdAlgoPerf_t>(p, ConvDir::Forward, dt, [&](int req, int* n, auto* perf, void* ws,
                                                                               size_t wsb) {
          return cudnnFindConvolutionForwardAlgorithmEx(h, p.xd, x, p.wd, w, p.cd, p.yd, y, req, n, perf, ws, wsb);
        });
      },
      [&](Plan& p, cudnnHandle_t h, void* ws) {
        const float one = 1.0f;
        float beta = 0.0f;
        if (bias) {  // y pre-filled with the bias, blended with beta = 1
          k::fill_rows(elem(dt), bias, y, s.n * s.o, s.oh * s.ow, true, s.o);
          beta = 1.0f;
        }
        return cudnnConvolutionForward(h, &one, p.xd, x, p.wd, w, p.cd,
                                       static_cast<cudnnConvolutionFwdAlgo_t>(p.algo), ws, p.workspace, &beta, p.yd, y);
      });
}

bool cudnn_conv_backward_data(DType dt, const void* gy, const void* w, void* gx, const cpu::ConvShape& s) {
  return with_plan(
      ConvDir::BackwardData, dt, s,
      [&](Plan& p, cudnnHandle_t h) {
        return choose<cudnnConvolutionBwdDataAlgoPerf_t>(p, ConvDir::BackwardData, dt, [&](int req, int* n, auto* perf,
                                                                                         void* ws, size_t wsb) {
          return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.wd, w, p.yd, gy, p.cd, p.xd, gx, req, n, perf, ws,
                                                             wsb);
        });
      },
      [&](Plan& p, cudnnHandle_t h, void* ws) {
        const float one = 1.0f, zero = 0.0f;
        return cudnnConvolutionBackwardData(h, &one, p.wd, w, p.yd, gy, p.cd,
                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo), ws, p.workspace, &zero,
                                            p.xd, gx);
      });
}

bool cudnn_conv_backward_filter(DType dt, const void* gy, const void* x, void* gw, const cpu::ConvShape& s) {
  return with_plan(
      ConvDir::BackwardFilter, dt, s,
      [&](Plan& p, cudnnHandle_t h) {
        return choose<cudnnConvolutionBwdFilterAlgoPerf_t>(p, ConvDir::BackwardFilter, dt, [&](int req, int* n,
                                                                                             auto* perf, void* ws,
                                                                                             size_t wsb) {
          return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.xd, x, p.yd, gy, p.cd, p.wd, gw, req, n, perf, ws,
                                                               wsb);
        });
      },
      [&](Plan& p, cudnnHandle_t h, void* ws) {
        const float one = 1.0f, zero = 0.0f;
        return cudnnConvolutionBackwardFilter(h, &one, p.xd, x, p.yd, gy, p.cd,
                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo), ws, p.workspace,
                                              &zero, p.wd, gw);
      });
}

#endif  // LORASTACK_HAS_CUDNN

}  // namespace ls::cuda

#endif  // LORASTACK_HAS_CUDA
