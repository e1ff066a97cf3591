// CUDA kernels of the backend (declared in runtime/cuda/kernels.h). Every kernel is templated on the storage
// type T (float, __half, __nv_bfloat16) and computes in fp32 (statistics of norms in double, as the CPU
// backend does). Grid-stride loops; 64-bit indices. Math references as in runtime/cpu/ (erf GELU:
// Hendrycks & Gimpel 2016; QuickGELU: CLIP; GEGLU: Shazeer 2020; GroupNorm: Wu & He 2018).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "runtime/cuda/device_common.cuh"
#include "runtime/cuda/kernels.h"

namespace ls::cuda::k {
namespace {

// ---- conversion ----
template <typename A, typename B> __global__ void convert_k(const A* x, B* y, int64_t n) {
  GRID_LOOP(i, n) y[i] = st<B>(ld(x[i]));
}

// ---- element-wise ----
__device__ __forceinline__ float gelu_erf(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }
__device__ __forceinline__ float sigmoid_gate(float x, float a) { return x / (1.0f + expf(-a * x)); }

template <typename T> __global__ void unary_k(int f, const T* x, T* y, int64_t n) {
  GRID_LOOP(i, n) {
    const float v = ld(x[i]);
    float r;
    if (f == 0) r = sigmoid_gate(v, 1.0f);
    else if (f == 1) r = gelu_erf(v);
    else r = sigmoid_gate(v, 1.702f);
    y[i] = st<T>(r);
  }
}

template <typename T> __global__ void geglu_k(const T* x, T* y, int64_t rows, int64_t c) {
  GRID_LOOP(i, rows * c) {
    const int64_t r = i / c, j = i - r * c;
    const T* row = x + r * 2 * c;
    y[i] = st<T>(ld(row[j]) * gelu_erf(ld(row[c + j])));
  }
}

template <typename T> __global__ void binary_k(int op, int mode, const T* a, const T* b, T* y, int64_t n_a,
                                                int64_t n_b, int64_t inner) {
  GRID_LOOP(i, n_a) {
    int64_t bi;
    if (mode == 0) bi = i;                 // Same
    else if (mode == 1) bi = i % n_b;      // Suffix
    else if (mode == 2) bi = i / inner;    // PerChannel: a is [n_b, inner]
    else bi = 0;                           // Scalar
    const float u = ld(a[i]), v = ld(b[bi]);
    y[i] = st<T>(op == 0 ? u + v : op == 1 ? u - v : u * v);
  }
}

template <typename T> __global__ void axpby_k(float a, const T* x, float b, const T* z, T* y, int64_t n) {
  GRID_LOOP(i, n) y[i] = st<T>(a * ld(x[i]) + b * ld(z[i]));
}

template <typename T> __global__ void fill_rows_k(const T* bias, T* y, int64_t rows, int64_t cols, bool per_plane,
                                                   int64_t channels) {
  GRID_LOOP(i, rows * cols) {
    const int64_t r = i / cols;
    y[i] = per_plane ? bias[r % channels] : bias[i - r * cols];
  }
}

// ---- reductions ----
/// Sum of `v` over the block (blockDim.x == kThreads); result valid in every thread.
__device__ double block_sum(double v, double* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  double t = 0;
  for (int w = 0; w < kThreads / 32; ++w) t += shared[w];
  return t;
}
__device__ float block_max(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float t = shared[0];
  for (int w = 1; w < kThreads / 32; ++w) t = fmaxf(t, shared[w]);
  return t;
}
__device__ float block_sumf(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float t = 0;
  for (int w = 0; w < kThreads / 32; ++w) t += shared[w];
  return t;
}

/// GroupNorm statistics: grid (n·groups, splits); each block sums a slice of its group (cg·hw contiguous
/// values) in double and adds Σx, Σx² into stats[2·ng], stats[2·ng + 1] (zeroed before). Splitting a group over
/// many blocks keeps every SM busy at VAE sizes (a group of 512×512×4 values).
template <typename T> __global__ void group_stats_k(const T* x, double* stats, int64_t len, int64_t slice) {
  __shared__ double sh[kThreads / 32];
  const int64_t ng = blockIdx.x, begin = blockIdx.y * slice;
  const int64_t end = begin + slice < len ? begin + slice : len;
  const T* xs = x + ng * len;
  double s = 0, q = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    const double v = ld(xs[i]);
    s += v;
    q += v * v;
  }
  s = block_sum(s, sh);
  q = block_sum(q, sh);
  if (threadIdx.x == 0) {
    atomicAdd(&stats[2 * ng], s);
    atomicAdd(&stats[2 * ng + 1], q);
  }
}

/// y = (x − μ)·rstd·γ + β (then SiLU), element-parallel; μ and rstd per (sample, group) from the sums
/// (variance E[x²] − μ² evaluated in double, biased, as torch.nn.functional.group_norm).
template <typename T> __global__ void group_apply_k(const T* x, const double* stats, const T* gamma, const T* beta,
                                                     T* y, int64_t total, int64_t c, int64_t hw, int groups,
                                                     float eps, bool silu) {
  const int64_t cg = c / groups, len = cg * hw;
  GRID_LOOP(i, total) {
    const int64_t ng = i / len, ch = (i / hw) % c;
    const double mean = stats[2 * ng] / static_cast<double>(len);
    const double var = fmax(stats[2 * ng + 1] / static_cast<double>(len) - mean * mean, 0.0);
    const float rstd = static_cast<float>(rsqrt(var + static_cast<double>(eps)));
    const float a = rstd * ld(gamma[ch]), b = ld(beta[ch]) - static_cast<float>(mean) * a;
    float v = ld(x[i]) * a + b;
    if (silu) v = sigmoid_gate(v, 1.0f);
    y[i] = st<T>(v);
  }
}

template <typename T> __global__ void layer_norm_k(const T* x, const T* gamma, const T* beta, T* y, int64_t c,
                                                    float eps) {
  __shared__ double sh[kThreads / 32];
  const T* xr = x + blockIdx.x * c;
  T* yr = y + blockIdx.x * c;
  double s = 0;
  for (int64_t i = threadIdx.x; i < c; i += kThreads) s += ld(xr[i]);
  const double mean = block_sum(s, sh) / static_cast<double>(c);
  double q = 0;
  for (int64_t i = threadIdx.x; i < c; i += kThreads) {
    const double d = ld(xr[i]) - mean;
    q += d * d;
  }
  const double var = block_sum(q, sh) / static_cast<double>(c);
  const float rstd = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  const float m = static_cast<float>(mean);
  for (int64_t i = threadIdx.x; i < c; i += kThreads)
    yr[i] = st<T>((ld(xr[i]) - m) * rstd * ld(gamma[i]) + ld(beta[i]));
}

/// One block per row; the row is read three times (max, sum, write), all in fp32.
template <typename TI, typename TO> __global__ void softmax_k(const TI* x, TO* y, int64_t cols, float scale,
                                                              bool causal, int64_t lq, int64_t q_offset) {
  __shared__ float sh[kThreads / 32];
  const int64_t r = blockIdx.x;
  const TI* xr = x + r * cols;
  TO* yr = y + r * cols;
  const int64_t limit = causal ? (r % lq) + q_offset + 1 : cols;  // columns < limit are visible
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < limit && j < cols; j += kThreads) mx = fmaxf(mx, ld(xr[j]) * scale);
  mx = block_max(mx, sh);
  float s = 0;
  for (int64_t j = threadIdx.x; j < limit && j < cols; j += kThreads) s += expf(ld(xr[j]) * scale - mx);
  s = block_sumf(s, sh);
  const float inv = 1.0f / s;
  for (int64_t j = threadIdx.x; j < cols; j += kThreads)
    yr[j] = st<TO>(j < limit ? expf(ld(xr[j]) * scale - mx) * inv : 0.0f);
}

// ---- shape ----
template <typename T> __global__ void upsample_k(const T* x, T* y, int64_t planes, int64_t h, int64_t w) {
  const int64_t ow = 2 * w, oh = 2 * h;
  GRID_LOOP(i, planes * oh * ow) {
    const int64_t p = i / (oh * ow), rem = i - p * oh * ow, yy = rem / ow, xx = rem - yy * ow;
    y[i] = x[p * h * w + (yy / 2) * w + xx / 2];
  }
}

template <typename T> __global__ void pad_k(const T* x, T* y, int64_t planes, int64_t h, int64_t w, int right,
                                             int bottom) {
  const int64_t ow = w + right, oh = h + bottom;
  GRID_LOOP(i, planes * oh * ow) {
    const int64_t p = i / (oh * ow), rem = i - p * oh * ow, yy = rem / ow, xx = rem - yy * ow;
    y[i] = (yy < h && xx < w) ? x[p * h * w + yy * w + xx] : st<T>(0.0f);
  }
}

/// 32×32 tiles through shared memory: per sample x [rows, cols] → y [cols, rows].
template <typename T> __global__ void transpose_k(const T* x, T* y, int64_t rows, int64_t cols) {
  __shared__ T tile[32][33];
  const int64_t b = blockIdx.z;
  const T* xb = x + b * rows * cols;
  T* yb = y + b * rows * cols;
  const int64_t c0 = blockIdx.x * 32, r0 = blockIdx.y * 32;
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t r = r0 + i, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[i][threadIdx.x] = xb[r * cols + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t c = c0 + i, r = r0 + threadIdx.x;
    if (r < rows && c < cols) yb[c * rows + r] = tile[threadIdx.x][i];
  }
}

struct PermuteArgs {
  int ndim;
  int64_t out_shape[8];
  int64_t in_stride_of_out_dim[8];
};
template <typename T> __global__ void permute_k(const T* x, T* y, PermuteArgs a, int64_t n) {
  GRID_LOOP(i, n) {
    int64_t rem = i, src = 0;
    for (int d = a.ndim - 1; d >= 0; --d) {
      const int64_t idx = rem % a.out_shape[d];
      rem /= a.out_shape[d];
      src += idx * a.in_stride_of_out_dim[d];
    }
    y[i] = x[src];
  }
}

template <typename T> __global__ void embedding_k(const T* table, int64_t c, const int64_t* ids, int64_t n, T* y) {
  GRID_LOOP(i, n * c) {
    const int64_t r = i / c;
    y[i] = table[ids[r] * c + (i - r * c)];
  }
}

/// col[s, (ci·kh + ky)·kw + kx, oy·ow + ox] = x[s, ci, oy·stride − pad + ky, ox·stride − pad + kx] (0 outside).
template <typename T> __global__ void im2col_k(const T* x, int64_t x_stride, T* col, int64_t count, int64_t c,
                                                int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t oh,
                                                int64_t ow, int stride, int pad) {
  const int64_t ohw = oh * ow, rows = c * kh * kw;
  GRID_LOOP(i, count * rows * ohw) {
    const int64_t s = i / (rows * ohw);
    int64_t rem = i - s * rows * ohw;
    const int64_t row = rem / ohw, pix = rem - row * ohw;
    const int64_t ci = row / (kh * kw), kk = row - ci * kh * kw, ky = kk / kw, kx = kk - ky * kw;
    const int64_t oy = pix / ow, ox = pix - oy * ow;
    const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
    col[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[s * x_stride + (ci * h + iy) * w + ix] : st<T>(0.0f);
  }
}

}  // namespace

void convert(const void* src, Elem from, void* dst, Elem to, int64_t n) {
  if (n == 0) return;
  dispatch(from, "convert", [&](auto a) {
    using A = decltype(a);
    dispatch(to, "convert", [&](auto b) {
      using B = decltype(b);
      convert_k<A, B><<<blocks_for(n), kThreads>>>(cp<A>(src), mp<B>(dst), n);
    });
  });
  check_launch("convert");
}

void unary(Elem dt, cpu::Unary f, const void* x, void* y, int64_t n) {
  if (n == 0) return;
  const int code = f == cpu::Unary::SiLU ? 0 : f == cpu::Unary::GELU ? 1 : 2;
  dispatch(dt, "unary", [&](auto t) {
    using T = decltype(t);
    unary_k<T><<<blocks_for(n), kThreads>>>(code, cp<T>(x), mp<T>(y), n);
  });
  check_launch("unary");
}

void geglu(Elem dt, const void* x, void* y, int64_t rows, int64_t c) {
  if (rows * c == 0) return;
  dispatch(dt, "geglu", [&](auto t) {
    using T = decltype(t);
    geglu_k<T><<<blocks_for(rows * c), kThreads>>>(cp<T>(x), mp<T>(y), rows, c);
  });
  check_launch("geglu");
}

void binary(Elem dt, cpu::Binary op, cpu::Bcast mode, const void* a, const void* b, void* y, int64_t n_a,
            int64_t n_b, int64_t inner) {
  if (n_a == 0) return;
  const int o = op == cpu::Binary::Add ? 0 : op == cpu::Binary::Sub ? 1 : 2;
  const int m = mode == cpu::Bcast::Same ? 0 : mode == cpu::Bcast::Suffix ? 1 : mode == cpu::Bcast::PerChannel ? 2 : 3;
  dispatch(dt, "binary", [&](auto t) {
    using T = decltype(t);
    binary_k<T><<<blocks_for(n_a), kThreads>>>(o, m, cp<T>(a), cp<T>(b), mp<T>(y), n_a, n_b, inner);
  });
  check_launch("binary");
}

void axpby(Elem dt, float a, const void* x, float b, const void* z, void* y, int64_t n) {
  if (n == 0) return;
  dispatch(dt, "axpby", [&](auto t) {
    using T = decltype(t);
    axpby_k<T><<<blocks_for(n), kThreads>>>(a, cp<T>(x), b, cp<T>(z), mp<T>(y), n);
  });
  check_launch("axpby");
}

void fill_rows(Elem dt, const void* bias, void* y, int64_t rows, int64_t cols, bool per_plane, int64_t channels) {
  if (rows * cols == 0) return;
  dispatch(dt, "fill_rows", [&](auto t) {
    using T = decltype(t);
    fill_rows_k<T><<<blocks_for(rows * cols), kThreads>>>(cp<T>(bias), mp<T>(y), rows, cols, per_plane, channels);
  });
  check_launch("fill_rows");
}

void group_norm(Elem dt, const void* x, const void* gamma, const void* beta, void* y, int64_t n, int64_t c,
                int64_t hw, int groups, float eps, bool silu, double* stats) {
  const int64_t total = n * c * hw;
  if (total == 0) return;
  const int64_t len = (c / groups) * hw;
  const int64_t splits = len / 16384 + 1 < 1024 ? len / 16384 + 1 : 1024;
  const int64_t slice = (len + splits - 1) / splits;
  cudaMemsetAsync(stats, 0, sizeof(double) * 2 * n * groups, 0);
  dispatch(dt, "group_norm", [&](auto t) {
    using T = decltype(t);
    group_stats_k<T><<<dim3(static_cast<unsigned>(n * groups), static_cast<unsigned>(splits)), kThreads>>>(
        cp<T>(x), stats, len, slice);
    group_apply_k<T><<<blocks_for(total), kThreads>>>(cp<T>(x), stats, cp<T>(gamma), cp<T>(beta), mp<T>(y), total, c,
                                                      hw, groups, eps, silu);
  });
  check_launch("group_norm");
}

void layer_norm(Elem dt, const void* x, const void* gamma, const void* beta, void* y, int64_t rows, int64_t c,
                float eps) {
  if (rows * c == 0) return;
  dispatch(dt, "layer_norm", [&](auto t) {
    using T = decltype(t);
    layer_norm_k<T><<<static_cast<unsigned>(rows), kThreads>>>(cp<T>(x), cp<T>(gamma), cp<T>(beta), mp<T>(y), c, eps);
  });
  check_launch("layer_norm");
}

void softmax(Elem dt_in, Elem dt_out, const void* x, void* y, int64_t rows, int64_t cols, float scale, bool causal,
             int64_t lq, int64_t q_offset) {
  if (rows * cols == 0) return;
  dispatch(dt_in, "softmax", [&](auto a) {
    using A = decltype(a);
    dispatch(dt_out, "softmax", [&](auto b) {
      using B = decltype(b);
      softmax_k<A, B><<<static_cast<unsigned>(rows), kThreads>>>(cp<A>(x), mp<B>(y), cols, scale, causal,
                                                                  lq < 1 ? 1 : lq, q_offset);
    });
  });
  check_launch("softmax");
}

void upsample_nearest2x(Elem dt, const void* x, void* y, int64_t planes, int64_t h, int64_t w) {
  const int64_t n = planes * 4 * h * w;
  if (n == 0) return;
  dispatch(dt, "upsample_nearest2x", [&](auto t) {
    using T = decltype(t);
    upsample_k<T><<<blocks_for(n), kThreads>>>(cp<T>(x), mp<T>(y), planes, h, w);
  });
  check_launch("upsample_nearest2x");
}

void pad_right_bottom(Elem dt, const void* x, void* y, int64_t planes, int64_t h, int64_t w, int right, int bottom) {
  const int64_t n = planes * (h + bottom) * (w + right);
  if (n == 0) return;
  dispatch(dt, "pad_right_bottom", [&](auto t) {
    using T = decltype(t);
    pad_k<T><<<blocks_for(n), kThreads>>>(cp<T>(x), mp<T>(y), planes, h, w, right, bottom);
  });
  check_launch("pad_right_bottom");
}

void transpose_batched(Elem dt, const void* x, void* y, int64_t batch, int64_t rows, int64_t cols) {
  if (batch * rows * cols == 0) return;
  if (batch > 65535) {  // grid.z limit: split the batch
    for (int64_t b0 = 0; b0 < batch; b0 += 65535) {
      const int64_t nb = batch - b0 < 65535 ? batch - b0 : 65535;
      const int64_t off = b0 * rows * cols * (dt == Elem::F32 ? 4 : 2);
      transpose_batched(dt, static_cast<const char*>(x) + off, static_cast<char*>(y) + off, nb, rows, cols);
    }
    return;
  }
  dim3 grid(static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>((rows + 31) / 32),
            static_cast<unsigned>(batch));
  dim3 block(32, 8);
  dispatch(dt, "transpose_batched", [&](auto t) {
    using T = decltype(t);
    transpose_k<T><<<grid, block>>>(cp<T>(x), mp<T>(y), rows, cols);
  });
  check_launch("transpose_batched");
}

void permute(Elem dt, const void* x, void* y, const int64_t* shape, const int* perm, int ndim, int64_t numel) {
  if (numel == 0) return;
  // ndim ≤ 8 is checked by the caller (runtime/cuda/ops.cpp)
  PermuteArgs a{};
  a.ndim = ndim;
  int64_t in_stride[8];
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    in_stride[d] = s;
    s *= shape[d];
  }
  for (int d = 0; d < ndim; ++d) {
    a.out_shape[d] = shape[perm[d]];
    a.in_stride_of_out_dim[d] = in_stride[perm[d]];
  }
  dispatch(dt, "permute", [&](auto t) {
    using T = decltype(t);
    permute_k<T><<<blocks_for(numel), kThreads>>>(cp<T>(x), mp<T>(y), a, numel);
  });
  check_launch("permute");
}

void embedding(Elem dt, const void* table, int64_t c, const int64_t* ids, int64_t n, void* y) {
  if (n * c == 0) return;
  dispatch(dt, "embedding", [&](auto t) {
    using T = decltype(t);
    embedding_k<T><<<blocks_for(n * c), kThreads>>>(cp<T>(table), c, ids, n, mp<T>(y));
  });
  check_launch("embedding");
}

void im2col(Elem dt, const void* x, int64_t x_stride, void* col, int64_t count, int64_t c, int64_t h, int64_t w,
            int64_t kh, int64_t kw, int64_t oh, int64_t ow, int stride, int pad) {
  const int64_t n = count * c * kh * kw * oh * ow;
  if (n == 0) return;
  dispatch(dt, "im2col", [&](auto t) {
    using T = decltype(t);
    im2col_k<T><<<blocks_for(n), kThreads>>>(cp<T>(x), x_stride, mp<T>(col), count, c, h, w, kh, kw, oh, ow, stride,
                                             pad);
  });
  check_launch("im2col");
}

}  // namespace ls::cuda::k
