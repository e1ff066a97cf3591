// CUDA gradient kernels (declared in runtime/cuda/backward_kernels.h). Templated on the storage type T (float,
// __half, __nv_bfloat16), fp32 arithmetic, double for norm statistics and their parameter sums. Reductions are
// deterministic (fixed split order) except where stated (norm sums: double atomics, order-independent to far
// below fp32 rounding; embedding: fp32 atomics). Math: the adjoints in runtime/ops_backward.h (GroupNorm: Wu &
// He 2018; LayerNorm: Ba et al. 2016; softmax Jacobian-vector product; AdamW: Loshchilov & Hutter 2019).
#include "runtime/cuda/backward_kernels.h"
#include "runtime/cuda/device_common.cuh"

namespace ls::cuda::k {
namespace {

__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
/// d/dx x·Φ(x) = Φ(x) + x·φ(x)
__device__ __forceinline__ float gelu_grad(float x) {
  const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
  const float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
  return cdf + x * pdf;
}
/// d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x)))
__device__ __forceinline__ float silu_grad(float x) {
  const float s = sigmoid_f(x);
  return s * (1.0f + x * (1.0f - s));
}
/// d/dx x·σ(1.702x) = s + 1.702·x·s(1 − s)
__device__ __forceinline__ float quick_gelu_grad(float x) {
  const float s = sigmoid_f(1.702f * x);
  return s + 1.702f * x * s * (1.0f - s);
}

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

template <typename A> __device__ A warp_sum(A v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
/// Sum over a 1-D block of kThreads threads, valid in every thread; `sh` holds kThreads/32 values.
template <typename A> __device__ A block_sum(A v, A* sh) {
  v = warp_sum(v);
  __syncthreads();  // earlier readers of sh are done
  if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  A t = 0;
  for (int w = 0; w < kThreads / 32; ++w) t += sh[w];
  return t;
}

// ---- reductions ----
constexpr int kColTile = 32, kRowLanes = 8;  // column kernels: blocks of 32 columns × 8 row lanes

template <typename T> __global__ void column_partial_k(const T* x, float* partial, int64_t rows, int64_t cols,
                                                        int64_t per_split) {
  __shared__ float sh[kRowLanes][kColTile + 1];
  const int64_t c = blockIdx.x * static_cast<int64_t>(kColTile) + threadIdx.x;
  const int64_t r0 = blockIdx.y * per_split, r1 = min64(r0 + per_split, rows);
  float acc = 0.0f;
  if (c < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) acc += ld(x[r * cols + c]);
  sh[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float s = 0.0f;
    for (int i = 0; i < kRowLanes; ++i) s += sh[i][threadIdx.x];
    partial[blockIdx.y * cols + c] = s;
  }
}

template <typename O> __global__ void column_final_k(const float* partial, O* out, int64_t splits, int64_t cols) {
  GRID_LOOP(c, cols) {
    float s = 0.0f;
    for (int64_t i = 0; i < splits; ++i) s += partial[i * cols + c];
    out[c] = st<O>(s);
  }
}

template <typename T> __global__ void row_partial_k(const T* x, float* partial, int64_t cols, int64_t splits,
                                                     int64_t per_split) {
  __shared__ float sh[kThreads / 32];
  const int64_t r = blockIdx.x, s = blockIdx.y;
  const int64_t c0 = s * per_split, c1 = min64(c0 + per_split, cols);
  const T* xr = x + r * cols;
  float acc = 0.0f;
  for (int64_t c = c0 + threadIdx.x; c < c1; c += kThreads) acc += ld(xr[c]);
  acc = block_sum(acc, sh);
  if (threadIdx.x == 0) partial[r * splits + s] = acc;
}

template <typename T> __global__ void row_final_k(const float* partial, T* out, int64_t rows, int64_t splits) {
  GRID_LOOP(r, rows) {
    float s = 0.0f;
    for (int64_t i = 0; i < splits; ++i) s += partial[r * splits + i];
    out[r] = st<T>(s);
  }
}

template <typename T> __global__ void row_small_k(const T* x, T* out, int64_t rows, int64_t cols) {
  GRID_LOOP(r, rows) {
    float s = 0.0f;
    for (int64_t c = 0; c < cols; ++c) s += ld(x[r * cols + c]);
    out[r] = st<T>(s);
  }
}

// ---- convolution / resampling ----
template <typename T> __global__ void col2im_k(const float* col, T* x, int64_t x_stride, int64_t count, int64_t c,
                                                int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t oh, int64_t ow,
                                                int stride, int pad) {
  const int64_t hw = h * w, ohw = oh * ow, per = c * hw;
  GRID_LOOP(i, count * per) {
    const int64_t s = i / per;
    int64_t rem = i - s * per;
    const int64_t ci = rem / hw;
    rem -= ci * hw;
    const int64_t iy = rem / w, ix = rem - iy * w;
    const float* cs = col + s * c * kh * kw * ohw;
    float acc = 0.0f;
    for (int64_t ky = 0; ky < kh; ++ky) {
      const int64_t ty = iy + pad - ky;
      if (ty < 0 || ty % stride != 0) continue;
      const int64_t oy = ty / stride;
      if (oy >= oh) continue;
      for (int64_t kx = 0; kx < kw; ++kx) {
        const int64_t tx = ix + pad - kx;
        if (tx < 0 || tx % stride != 0) continue;
        const int64_t ox = tx / stride;
        if (ox >= ow) continue;
        acc += cs[((ci * kh + ky) * kw + kx) * ohw + oy * ow + ox];
      }
    }
    x[s * x_stride + ci * hw + iy * w + ix] = st<T>(acc);
  }
}

template <typename T> __global__ void add_channel_bias_k(T* y, const T* bias, int64_t total, int64_t channels,
                                                          int64_t inner) {
  GRID_LOOP(i, total) y[i] = st<T>(ld(y[i]) + ld(bias[(i / inner) % channels]));
}

template <typename T> __global__ void upsample_bwd_k(const T* gy, T* gx, int64_t planes, int64_t h, int64_t w) {
  const int64_t hw = h * w, w2 = 2 * w;
  GRID_LOOP(i, planes * hw) {
    const int64_t p = i / hw, rem = i - p * hw, yy = rem / w, xx = rem - yy * w;
    const T* b = gy + p * 4 * hw + (2 * yy) * w2 + 2 * xx;
    gx[i] = st<T>(ld(b[0]) + ld(b[1]) + ld(b[w2]) + ld(b[w2 + 1]));
  }
}

template <typename T> __global__ void crop_k(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t h,
                                              int64_t w) {
  const int64_t hw = h * w;
  GRID_LOOP(i, planes * hw) {
    const int64_t p = i / hw, rem = i - p * hw, yy = rem / w, xx = rem - yy * w;
    y[i] = x[p * H * W + yy * W + xx];
  }
}

// ---- group norm ----
/// Per plane (sample, channel) slice: Σx, Σx² in double, atomically added into s1[p], s2[p] (zeroed).
template <typename T> __global__ void gn_plane_stats_k(const T* x, double* s1, double* s2, int64_t hw, int64_t slice) {
  __shared__ double sh[kThreads / 32];
  const int64_t p = blockIdx.x, b = blockIdx.y * slice, e = min64(b + slice, hw);
  const T* xp = x + p * hw;
  double a = 0.0, q = 0.0;
  for (int64_t i = b + threadIdx.x; i < e; i += kThreads) {
    const double v = ld(xp[i]);
    a += v;
    q += v * v;
  }
  a = block_sum(a, sh);
  q = block_sum(q, sh);
  if (threadIdx.x == 0) {
    atomicAdd(&s1[p], a);
    atomicAdd(&s2[p], q);
  }
}

/// Per (sample, group): mean and rstd = 1/√(var + eps), biased variance E[x²] − μ² (as the forward kernel).
__global__ void gn_group_stats_k(const double* s1, const double* s2, double* mean, double* rstd, int64_t ngt,
                                 int64_t c, int groups, int64_t hw, float eps) {
  const int64_t cg = c / groups;
  GRID_LOOP(i, ngt) {
    const int64_t n = i / groups, g = i - n * groups;
    double a = 0.0, q = 0.0;
    for (int64_t j = 0; j < cg; ++j) {
      a += s1[n * c + g * cg + j];
      q += s2[n * c + g * cg + j];
    }
    const double len = static_cast<double>(cg * hw);
    const double m = a / len;
    mean[i] = m;
    rstd[i] = rsqrt(fmax(q / len - m * m, 0.0) + static_cast<double>(eps));
  }
}

/// Per plane slice: Σ gz and Σ gz·x̂ (gz = ∂L/∂(x̂γ+β), through the SiLU when fused), double atomics.
template <typename T> __global__ void gn_plane_grad_k(const T* gy, const T* x, const double* mean, const double* rstd,
                                                       const T* gamma, const T* beta, double* sg, double* sgx,
                                                       int64_t c, int groups, int64_t hw, int64_t slice, bool silu) {
  __shared__ double sh[kThreads / 32];
  const int64_t p = blockIdx.x, n = p / c, ch = p - n * c, ng = n * groups + ch / (c / groups);
  const int64_t b = blockIdx.y * slice, e = min64(b + slice, hw);
  const float m = static_cast<float>(mean[ng]), r = static_cast<float>(rstd[ng]);
  const float ga = ld(gamma[ch]), be = ld(beta[ch]);
  const T* xp = x + p * hw;
  const T* gp = gy + p * hw;
  double a = 0.0, q = 0.0;
  for (int64_t i = b + threadIdx.x; i < e; i += kThreads) {
    const float xh = (ld(xp[i]) - m) * r;
    float gz = ld(gp[i]);
    if (silu) gz *= silu_grad(xh * ga + be);
    a += gz;
    q += static_cast<double>(gz) * xh;
  }
  a = block_sum(a, sh);
  q = block_sum(q, sh);
  if (threadIdx.x == 0) {
    atomicAdd(&sg[p], a);
    atomicAdd(&sgx[p], q);
  }
}

/// Threads [0, n·groups): A = mean over the group of gx̂ = Σ γ_c Σgz / len, B = mean of gx̂·x̂; threads
/// [n·groups, n·groups + c): ∂γ_c = Σ_n Σ gz·x̂, ∂β_c = Σ_n Σ gz.
template <typename T> __global__ void gn_finalize_k(const double* sg, const double* sgx, const T* gamma, T* ggamma,
                                                     T* gbeta, double* ca, double* cb, int64_t n, int64_t c,
                                                     int groups, int64_t hw) {
  const int64_t cg = c / groups, ngt = n * groups;
  GRID_LOOP(i, ngt + c) {
    if (i < ngt) {
      const int64_t nn = i / groups, g = i - nn * groups;
      double A = 0.0, B = 0.0;
      for (int64_t j = 0; j < cg; ++j) {
        const int64_t ch = g * cg + j;
        const double ga = ld(gamma[ch]);
        A += ga * sg[nn * c + ch];
        B += ga * sgx[nn * c + ch];
      }
      const double len = static_cast<double>(cg * hw);
      ca[i] = A / len;
      cb[i] = B / len;
    } else {
      const int64_t ch = i - ngt;
      double gb = 0.0, gg = 0.0;
      for (int64_t nn = 0; nn < n; ++nn) {
        gb += sg[nn * c + ch];
        gg += sgx[nn * c + ch];
      }
      ggamma[ch] = st<T>(static_cast<float>(gg));
      gbeta[ch] = st<T>(static_cast<float>(gb));
    }
  }
}

/// gx = rstd·(gz·γ − A − x̂·B)
template <typename T> __global__ void gn_apply_k(const T* gy, const T* x, const double* mean, const double* rstd,
                                                  const double* ca, const double* cb, const T* gamma, const T* beta,
                                                  T* gx, int64_t total, int64_t c, int groups, int64_t hw, bool silu) {
  const int64_t cg = c / groups;
  GRID_LOOP(i, total) {
    const int64_t p = i / hw, n = p / c, ch = p - n * c, ng = n * groups + ch / cg;
    const float r = static_cast<float>(rstd[ng]), ga = ld(gamma[ch]);
    const float xh = (ld(x[i]) - static_cast<float>(mean[ng])) * r;
    float gz = ld(gy[i]);
    if (silu) gz *= silu_grad(xh * ga + ld(beta[ch]));
    gx[i] = st<T>(r * (gz * ga - static_cast<float>(ca[ng]) - xh * static_cast<float>(cb[ng])));
  }
}

// ---- layer norm ----
/// One block per row: statistics (two-pass, double, as the forward kernel), then
/// gx = rstd·(gŷ − mean(gŷ) − x̂·mean(gŷ·x̂)) with gŷ = gy·γ; stats[2r] = μ, stats[2r + 1] = rstd.
template <typename T> __global__ void ln_rows_k(const T* gy, const T* x, const T* gamma, T* gx, float* stats,
                                                 int64_t c, float eps) {
  __shared__ double sh[kThreads / 32];
  const int64_t row = blockIdx.x;
  const T* xr = x + row * c;
  const T* gr = gy + row * c;
  T* outr = gx + row * c;
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < c; i += kThreads) s += ld(xr[i]);
  const double mean = block_sum(s, sh) / static_cast<double>(c);
  double q = 0.0;
  for (int64_t i = threadIdx.x; i < c; i += kThreads) {
    const double d = ld(xr[i]) - mean;
    q += d * d;
  }
  const double var = block_sum(q, sh) / static_cast<double>(c);
  const float rstd = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  const float m = static_cast<float>(mean);
  double a = 0.0, b = 0.0;
  for (int64_t i = threadIdx.x; i < c; i += kThreads) {
    const float xh = (ld(xr[i]) - m) * rstd, g = ld(gr[i]) * ld(gamma[i]);
    a += g;
    b += static_cast<double>(g) * xh;
  }
  const float ma = static_cast<float>(block_sum(a, sh) / static_cast<double>(c));
  const float mb = static_cast<float>(block_sum(b, sh) / static_cast<double>(c));
  for (int64_t i = threadIdx.x; i < c; i += kThreads) {
    const float xh = (ld(xr[i]) - m) * rstd, g = ld(gr[i]) * ld(gamma[i]);
    outr[i] = st<T>(rstd * (g - ma - xh * mb));
  }
  if (threadIdx.x == 0) {
    stats[2 * row] = m;
    stats[2 * row + 1] = rstd;
  }
}

/// Column partial sums of gy·x̂ (→ pg) and gy (→ pb), as column_partial_k.
template <typename T> __global__ void ln_param_partial_k(const T* gy, const T* x, const float* stats, float* pg,
                                                          float* pb, int64_t rows, int64_t cols, int64_t per_split) {
  __shared__ float shg[kRowLanes][kColTile + 1];
  __shared__ float shb[kRowLanes][kColTile + 1];
  const int64_t c = blockIdx.x * static_cast<int64_t>(kColTile) + threadIdx.x;
  const int64_t r0 = blockIdx.y * per_split, r1 = min64(r0 + per_split, rows);
  float ag = 0.0f, ab = 0.0f;
  if (c < cols)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kRowLanes) {
      const float g = ld(gy[r * cols + c]);
      ag += g * (ld(x[r * cols + c]) - stats[2 * r]) * stats[2 * r + 1];
      ab += g;
    }
  shg[threadIdx.y][threadIdx.x] = ag;
  shb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float sg = 0.0f, sb = 0.0f;
    for (int i = 0; i < kRowLanes; ++i) {
      sg += shg[i][threadIdx.x];
      sb += shb[i][threadIdx.x];
    }
    pg[blockIdx.y * cols + c] = sg;
    pb[blockIdx.y * cols + c] = sb;
  }
}

// ---- activations ----
template <typename T> __global__ void unary_bwd_k(int f, const T* x, const T* gy, T* gx, int64_t n) {
  GRID_LOOP(i, n) {
    const float v = ld(x[i]);
    const float d = f == 0 ? silu_grad(v) : f == 1 ? gelu_grad(v) : quick_gelu_grad(v);
    gx[i] = st<T>(ld(gy[i]) * d);
  }
}

template <typename T> __global__ void geglu_bwd_k(const T* x, const T* gy, T* gx, int64_t rows, int64_t c) {
  GRID_LOOP(i, rows * c) {
    const int64_t r = i / c, j = i - r * c;
    const T* xr = x + r * 2 * c;
    T* gr = gx + r * 2 * c;
    const float a = ld(xr[j]), g = ld(xr[c + j]), go = ld(gy[i]);
    gr[j] = st<T>(go * gelu_f(g));
    gr[c + j] = st<T>(go * a * gelu_grad(g));
  }
}

template <typename TY, typename TG, typename TO> __global__ void softmax_bwd_k(const TY* y, const TG* g, TO* gx,
                                                                             int64_t cols, float scale) {
  __shared__ float sh[kThreads / 32];
  const int64_t r = blockIdx.x;
  const TY* yr = y + r * cols;
  const TG* gr = g + r * cols;
  TO* outr = gx + r * cols;
  float d = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) d += ld(yr[j]) * ld(gr[j]);
  d = block_sum(d, sh);
  for (int64_t j = threadIdx.x; j < cols; j += kThreads) outr[j] = st<TO>(scale * ld(yr[j]) * (ld(gr[j]) - d));
}

// ---- embeddings / optimizer ----
template <typename T> __global__ void embedding_bwd_k(const T* gy, const int64_t* ids, int64_t n, int64_t c,
                                                       float* acc) {
  GRID_LOOP(i, n * c) {
    const int64_t r = i / c;
    atomicAdd(&acc[ids[r] * c + (i - r * c)], ld(gy[i]));
  }
}

template <typename T> __global__ void adamw_k(float* p, const T* g, float* m, float* v, int64_t n, float lr, float b1,
                                               float b2, float eps, float wd, float bc1, float sqrt_bc2) {
  GRID_LOOP(i, n) {
    const float gi = ld(g[i]);
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float pi = p[i] * (1.0f - lr * wd);  // decoupled weight decay first, as torch.optim.AdamW
    p[i] = pi - (lr / bc1) * mi / (sqrtf(vi) / sqrt_bc2 + eps);
  }
}

int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

}  // namespace

// ---- launchers ----

int64_t column_sum_splits(int64_t rows, int64_t cols) {
  const int64_t gx = (cols + kColTile - 1) / kColTile;
  const int64_t want = (512 + gx - 1) / (gx < 1 ? 1 : gx);  // ≈ 4 blocks per SM in all
  return clamp64(want, 1, clamp64((rows + 63) / 64, 1, 4096));
}

void column_sum(Elem dt, const void* x, Elem dt_out, void* out, int64_t rows, int64_t cols, float* scratch) {
  if (cols == 0) return;
  const int64_t splits = column_sum_splits(rows, cols), per = (rows + splits - 1) / splits;
  dispatch(dt, "column_sum", [&](auto t) {
    using T = decltype(t);
    const dim3 grid(static_cast<unsigned>((cols + kColTile - 1) / kColTile), static_cast<unsigned>(splits));
    column_partial_k<T><<<grid, dim3(kColTile, kRowLanes)>>>(cp<T>(x), scratch, rows, cols, per < 1 ? 1 : per);
  });
  dispatch(dt_out, "column_sum", [&](auto t) {
    using O = decltype(t);
    column_final_k<O><<<blocks_for(cols), kThreads>>>(scratch, mp<O>(out), splits, cols);
  });
  check_launch("column_sum");
}

int64_t row_sum_splits(int64_t rows, int64_t cols) {
  (void)rows;
  return clamp64((cols + 8191) / 8192, 1, 1024);
}

void row_sum(Elem dt, const void* x, void* out, int64_t rows, int64_t cols, float* scratch) {
  if (rows == 0) return;
  dispatch(dt, "row_sum", [&](auto t) {
    using T = decltype(t);
    if (cols <= 64) {
      row_small_k<T><<<blocks_for(rows), kThreads>>>(cp<T>(x), mp<T>(out), rows, cols);
      return;
    }
    const int64_t splits = row_sum_splits(rows, cols), per = (cols + splits - 1) / splits;
    row_partial_k<T><<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(splits)), kThreads>>>(
        cp<T>(x), scratch, cols, splits, per);
    row_final_k<T><<<blocks_for(rows), kThreads>>>(scratch, mp<T>(out), rows, splits);
  });
  check_launch("row_sum");
}

void col2im(Elem dt, const float* col, void* x, int64_t x_stride, int64_t count, int64_t c, int64_t h, int64_t w,
            int64_t kh, int64_t kw, int64_t oh, int64_t ow, int stride, int pad) {
  const int64_t n = count * c * h * w;
  if (n == 0) return;
  dispatch(dt, "col2im", [&](auto t) {
    using T = decltype(t);
    col2im_k<T><<<blocks_for(n), kThreads>>>(col, mp<T>(x), x_stride, count, c, h, w, kh, kw, oh, ow, stride, pad);
  });
  check_launch("col2im");
}

void add_channel_bias(Elem dt, void* y, const void* bias, int64_t planes, int64_t channels, int64_t inner) {
  const int64_t n = planes * inner;
  if (n == 0) return;
  dispatch(dt, "add_channel_bias", [&](auto t) {
    using T = decltype(t);
    add_channel_bias_k<T><<<blocks_for(n), kThreads>>>(mp<T>(y), cp<T>(bias), n, channels, inner);
  });
  check_launch("add_channel_bias");
}

void upsample_nearest2x_backward(Elem dt, const void* gy, void* gx, int64_t planes, int64_t h, int64_t w) {
  const int64_t n = planes * h * w;
  if (n == 0) return;
  dispatch(dt, "upsample_nearest2x_backward", [&](auto t) {
    using T = decltype(t);
    upsample_bwd_k<T><<<blocks_for(n), kThreads>>>(cp<T>(gy), mp<T>(gx), planes, h, w);
  });
  check_launch("upsample_nearest2x_backward");
}

void crop(Elem dt, const void* x, void* y, int64_t planes, int64_t H, int64_t W, int64_t h, int64_t w) {
  const int64_t n = planes * h * w;
  if (n == 0) return;
  dispatch(dt, "crop", [&](auto t) {
    using T = decltype(t);
    crop_k<T><<<blocks_for(n), kThreads>>>(cp<T>(x), mp<T>(y), planes, H, W, h, w);
  });
  check_launch("crop");
}

void group_norm_backward(Elem dt, const void* gy, const void* x, const void* gamma, const void* beta, void* gx,
                         void* ggamma, void* gbeta, int64_t n, int64_t c, int64_t hw, int groups, float eps, bool silu,
                         double* scratch) {
  const int64_t nc = n * c, ngt = n * groups;
  if (nc == 0) return;
  double* s1 = scratch;
  double* s2 = s1 + nc;
  double* sg = s2 + nc;
  double* sgx = sg + nc;
  double* mean = sgx + nc;
  double* rstd = mean + ngt;
  double* ca = rstd + ngt;
  double* cb = ca + ngt;
  cudaMemsetAsync(scratch, 0, sizeof(double) * 4 * nc, 0);
  const int64_t splits = clamp64(hw / 16384 + 1, 1, 1024), slice = (hw + splits - 1) / splits;
  const dim3 grid(static_cast<unsigned>(nc), static_cast<unsigned>(splits));
  dispatch(dt, "group_norm_backward", [&](auto t) {
    using T = decltype(t);
    if (hw > 0) gn_plane_stats_k<T><<<grid, kThreads>>>(cp<T>(x), s1, s2, hw, slice);
    gn_group_stats_k<<<blocks_for(ngt), kThreads>>>(s1, s2, mean, rstd, ngt, c, groups, hw, eps);
    if (hw > 0)
      gn_plane_grad_k<T><<<grid, kThreads>>>(cp<T>(gy), cp<T>(x), mean, rstd, cp<T>(gamma), cp<T>(beta), sg, sgx, c,
                                             groups, hw, slice, silu);
    gn_finalize_k<T><<<blocks_for(ngt + c), kThreads>>>(sg, sgx, cp<T>(gamma), mp<T>(ggamma), mp<T>(gbeta), ca, cb, n,
                                                        c, groups, hw);
    if (hw > 0)
      gn_apply_k<T><<<blocks_for(nc * hw), kThreads>>>(cp<T>(gy), cp<T>(x), mean, rstd, ca, cb, cp<T>(gamma),
                                                       cp<T>(beta), mp<T>(gx), nc * hw, c, groups, hw, silu);
  });
  check_launch("group_norm_backward");
}

void layer_norm_backward(Elem dt, const void* gy, const void* x, const void* gamma, void* gx, void* ggamma,
                         void* gbeta, int64_t rows, int64_t c, float eps, float* stats, float* scratch) {
  if (c == 0) return;
  const int64_t splits = column_sum_splits(rows, c), per = (rows + splits - 1) / splits;
  float* pg = scratch;
  float* pb = scratch + splits * c;
  dispatch(dt, "layer_norm_backward", [&](auto t) {
    using T = decltype(t);
    if (rows > 0) {
      ln_rows_k<T><<<static_cast<unsigned>(rows), kThreads>>>(cp<T>(gy), cp<T>(x), cp<T>(gamma), mp<T>(gx), stats, c,
                                                              eps);
    }
    const dim3 grid(static_cast<unsigned>((c + kColTile - 1) / kColTile), static_cast<unsigned>(splits));
    ln_param_partial_k<T><<<grid, dim3(kColTile, kRowLanes)>>>(cp<T>(gy), cp<T>(x), stats, pg, pb, rows, c,
                                                               per < 1 ? 1 : per);
    column_final_k<T><<<blocks_for(c), kThreads>>>(pg, mp<T>(ggamma), splits, c);
    column_final_k<T><<<blocks_for(c), kThreads>>>(pb, mp<T>(gbeta), splits, c);
  });
  check_launch("layer_norm_backward");
}

void unary_backward(Elem dt, cpu::Unary f, const void* x, const void* gy, void* gx, int64_t n) {
  if (n == 0) return;
  const int code = f == cpu::Unary::SiLU ? 0 : f == cpu::Unary::GELU ? 1 : 2;
  dispatch(dt, "unary_backward", [&](auto t) {
    using T = decltype(t);
    unary_bwd_k<T><<<blocks_for(n), kThreads>>>(code, cp<T>(x), cp<T>(gy), mp<T>(gx), n);
  });
  check_launch("unary_backward");
}

void geglu_backward(Elem dt, const void* x, const void* gy, void* gx, int64_t rows, int64_t c) {
  if (rows * c == 0) return;
  dispatch(dt, "geglu_backward", [&](auto t) {
    using T = decltype(t);
    geglu_bwd_k<T><<<blocks_for(rows * c), kThreads>>>(cp<T>(x), cp<T>(gy), mp<T>(gx), rows, c);
  });
  check_launch("geglu_backward");
}

void softmax_backward(Elem dt_y, Elem dt_g, Elem dt_out, const void* y, const void* g, void* gx, int64_t rows,
                      int64_t cols, float scale) {
  if (rows * cols == 0) return;
  dispatch(dt_y, "softmax_backward", [&](auto a) {
    using TY = decltype(a);
    dispatch(dt_g, "softmax_backward", [&](auto b) {
      using TG = decltype(b);
      dispatch(dt_out, "softmax_backward", [&](auto c) {
        using TO = decltype(c);
        softmax_bwd_k<TY, TG, TO><<<static_cast<unsigned>(rows), kThreads>>>(cp<TY>(y), cp<TG>(g), mp<TO>(gx), cols,
                                                                             scale);
      });
    });
  });
  check_launch("softmax_backward");
}

void embedding_backward(Elem dt, const void* gy, const int64_t* ids, int64_t n, int64_t c, float* acc) {
  if (n * c == 0) return;
  dispatch(dt, "embedding_backward", [&](auto t) {
    using T = decltype(t);
    embedding_bwd_k<T><<<blocks_for(n * c), kThreads>>>(cp<T>(gy), ids, n, c, acc);
  });
  check_launch("embedding_backward");
}

void adamw(Elem dt, float* param, const void* grad, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
           float eps, float weight_decay, float bc1, float bc2) {
  if (n == 0) return;
  dispatch(dt, "adamw", [&](auto t) {
    using T = decltype(t);
    adamw_k<T><<<blocks_for(n), kThreads>>>(param, cp<T>(grad), m, v, n, lr, beta1, beta2, eps, weight_decay, bc1,
                                            sqrtf(bc2));
  });
  check_launch("adamw");
}

}  // namespace ls::cuda::k
