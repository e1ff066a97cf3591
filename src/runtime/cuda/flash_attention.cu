// Fused multi-head attention for F16 / BF16 (runtime/cuda/kernels.h, k::flash_attention): FlashAttention-2's
// forward (Dao 2023, "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning",
// algorithm 1) on the tensor cores through mma.sync m16n8k16 (fp32 accumulation), register-resident.
//
// One block = 4 warps = 64 query rows of one (sample, head); each warp owns 16 rows. The Q tile is loaded once
// into registers (A fragments); K and V tiles of 64 keys stream through shared memory, double-buffered with
// cp.async (16-byte copies when the head slice is 16-byte aligned, plain loads otherwise). Per key tile each warp
// computes S = Q·Kᵀ (8 n-tiles of 8 keys, fp32 in registers), applies scale·log2(e) and the masks, updates the
// running row max m and the per-thread partial row sum l (FA2: rescale the O accumulator by exp2(m_old − m_new),
// reduce l across the 4 threads of a row only at the end), and accumulates O += P·V with P converted from the S
// accumulators straight into A fragments (the C and A fragment layouts line up) and V read by ldmatrix.trans.
// The head dimension is zero-padded to DP (a multiple of 16); shared-memory rows are padded by 8 elements so
// the fragment loads are free of bank conflicts. Scores never reach global memory.
//
// Measured (H200, fp16, bench/cuda_notes.md): SD1.5's 4096-token self-attention [2,4096,320] h8 in 0.63 ms against
// 1.37 ms for the GEMM path (68 TFLOP/s: mma.sync, 4 warps, no wgmma / TMA yet); d80 and d160 heads 1.7–2.3× faster.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

#include "runtime/cuda/kernels.h"

namespace ls::cuda::k {
namespace {

constexpr int kRows = 64;  // query rows per block
constexpr int kKeys = 64;  // keys per tile
constexpr int kWarps = 4;
constexpr int kBlock = kWarps * 32;

template <typename T> struct Frag;
template <> struct Frag<__half> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    const __half2 h = __floats2half2_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &h, 4);
    return r;
  }
  static __device__ __forceinline__ __half from(float v) { return __float2half_rn(v); }
};
template <> struct Frag<__nv_bfloat16> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &h, 4);
    return r;
  }
  static __device__ __forceinline__ __nv_bfloat16 from(float v) { return __float2bfloat16_rn(v); }
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
/// 16-byte global → shared copy; src_bytes 0 writes zeros (rows / columns outside the tensor).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ uint32_t ld32(const void* p) { return *static_cast<const uint32_t*>(p); }

/// Loads rows [r0, r0 + 64) × DP columns of a [len, hd] matrix's head slice (`src` points at row 0, column h·d)
/// into `dst` (row stride LD); zeros outside rows < len and columns < d.
template <typename T, int DP, bool VEC>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t r0, int64_t len, int64_t hd, int d) {
  constexpr int LD = DP + 8;
  const int tid = threadIdx.x;
  if constexpr (VEC) {
    constexpr int kChunks = DP / 8;
    for (int i = tid; i < 64 * kChunks; i += kBlock) {
      const int r = i / kChunks, c = (i - r * kChunks) * 8;
      const bool ok = r0 + r < len && c < d;
      cp_async16(dst + r * LD + c, ok ? src + (r0 + r) * hd + c : src, ok ? 16 : 0);
    }
  } else {
    const T zero = Frag<T>::from(0.0f);
    for (int i = tid; i < 64 * DP; i += kBlock) {
      const int r = i / DP, c = i - r * DP;
      dst[r * LD + c] = (r0 + r < len && c < d) ? src[(r0 + r) * hd + c] : zero;
    }
  }
}

template <typename T, int DP, bool VEC>
__global__ void __launch_bounds__(kBlock) flash_fwd_k(const T* __restrict__ q, const T* __restrict__ k,
                                                      const T* __restrict__ v, T* __restrict__ o, int64_t lq,
                                                      int64_t lk, int heads, int d, bool causal, float scale_log2) {
  constexpr int LD = DP + 8;
  constexpr int KS = DP / 16;  // k-steps of Q·Kᵀ
  constexpr int NT = DP / 8;   // n-tiles of the O accumulator
  extern __shared__ __align__(128) unsigned char smem[];
  T* Qs = reinterpret_cast<T*>(smem);
  T* Ks = Qs + kRows * LD;  // two buffers
  T* Vs = Ks + 2 * kKeys * LD;

  const int bh = blockIdx.y, b = bh / heads, h = bh - b * heads;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * kRows, hd = static_cast<int64_t>(heads) * d;
  const T* qb = q + b * lq * hd + h * d;
  const T* kb = k + b * lk * hd + h * d;
  const T* vb = v + b * lk * hd + h * d;
  T* ob = o + b * lq * hd + h * d;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tig = lane % 4;

  const int64_t kend = causal ? (lk < q0 + kRows ? lk : q0 + kRows) : lk;
  const int ntiles = static_cast<int>((kend + kKeys - 1) / kKeys);

  load_tile<T, DP, VEC>(Qs, qb, q0, lq, hd, d);
  load_tile<T, DP, VEC>(Ks, kb, 0, lk, hd, d);
  load_tile<T, DP, VEC>(Vs, vb, 0, lk, hd, d);
  cp_async_commit();

  uint32_t qa[KS][4];
  float acc[NT][4];
#pragma unroll
  for (int n = 0; n < NT; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;  // rows g and g + 8 of this warp
  const int64_t row0 = q0 + warp * 16 + g, row1 = row0 + 8;

  for (int t = 0; t < ntiles; ++t) {
    if (t + 1 < ntiles) {
      const int nb = (t + 1) & 1;
      load_tile<T, DP, VEC>(Ks + nb * kKeys * LD, kb, static_cast<int64_t>(t + 1) * kKeys, lk, hd, d);
      load_tile<T, DP, VEC>(Vs + nb * kKeys * LD, vb, static_cast<int64_t>(t + 1) * kKeys, lk, hd, d);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (t == 0) {
      const T* qw = Qs + warp * 16 * LD;
#pragma unroll
      for (int kk = 0; kk < KS; ++kk) {
        qa[kk][0] = ld32(qw + g * LD + kk * 16 + tig * 2);
        qa[kk][1] = ld32(qw + (g + 8) * LD + kk * 16 + tig * 2);
        qa[kk][2] = ld32(qw + g * LD + kk * 16 + 8 + tig * 2);
        qa[kk][3] = ld32(qw + (g + 8) * LD + kk * 16 + 8 + tig * 2);
      }
    }
    const T* Kt = Ks + (t & 1) * kKeys * LD;
    const T* Vt = Vs + (t & 1) * kKeys * LD;
    const int64_t k0 = static_cast<int64_t>(t) * kKeys;

    float s[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < KS; ++kk)
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const T* kr = Kt + (j * 8 + g) * LD + kk * 16 + tig * 2;
        Frag<T>::mma(s[j], qa[kk], ld32(kr), ld32(kr + 8));
      }

    // scale into the log2 domain, mask, row maxima (the 4 threads of a row hold 16 of its 64 scores each)
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t col = k0 + j * 8 + tig * 2 + (e & 1);
        const int64_t row = e < 2 ? row0 : row1;
        float x = s[j][e] * scale_log2;
        if (col >= lk || (causal && col > row)) x = -INFINITY;
        s[j][e] = x;
        if (e < 2) mx0 = fmaxf(mx0, x);
        else mx1 = fmaxf(mx1, x);
      }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
    const float c0 = n0 == -INFINITY ? 1.0f : exp2f(m0 - n0), c1 = n1 == -INFINITY ? 1.0f : exp2f(m1 - n1);
    float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      s[j][0] = n0 == -INFINITY ? 0.0f : exp2f(s[j][0] - n0);
      s[j][1] = n0 == -INFINITY ? 0.0f : exp2f(s[j][1] - n0);
      s[j][2] = n1 == -INFINITY ? 0.0f : exp2f(s[j][2] - n1);
      s[j][3] = n1 == -INFINITY ? 0.0f : exp2f(s[j][3] - n1);
      ps0 += s[j][0] + s[j][1];
      ps1 += s[j][2] + s[j][3];
    }
    l0 = l0 * c0 + ps0;
    l1 = l1 * c1 + ps1;
    m0 = n0;
    m1 = n1;
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      acc[n][0] *= c0;
      acc[n][1] *= c0;
      acc[n][2] *= c1;
      acc[n][3] *= c1;
    }

    // O += P · V: P's C fragments become A fragments; V's B fragments by ldmatrix.trans (two n-tiles per x4)
#pragma unroll
    for (int kk = 0; kk < kKeys / 16; ++kk) {
      uint32_t pa[4];
      pa[0] = Frag<T>::pack(s[2 * kk][0], s[2 * kk][1]);
      pa[1] = Frag<T>::pack(s[2 * kk][2], s[2 * kk][3]);
      pa[2] = Frag<T>::pack(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = Frag<T>::pack(s[2 * kk + 1][2], s[2 * kk + 1][3]);
      const int mi = lane / 8, ri = lane % 8;
      const T* vrow = Vt + (kk * 16 + (mi & 1) * 8 + ri) * LD + (mi >> 1) * 8;
#pragma unroll
      for (int np = 0; np < DP / 16; ++np) {
        uint32_t b0, b1, b2, b3;
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(b0), "=r"(b1), "=r"(b2), "=r"(b3)
                     : "r"(smem_addr(vrow + np * 16)));
        Frag<T>::mma(acc[2 * np], pa, b0, b1);
        Frag<T>::mma(acc[2 * np + 1], pa, b2, b3);
      }
    }
    __syncthreads();  // this tile's buffers are free for the load of tile t + 2
  }

  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    const int c = n * 8 + tig * 2;
    if (row0 < lq) {
      if (c < d) ob[row0 * hd + c] = Frag<T>::from(acc[n][0] * inv0);
      if (c + 1 < d) ob[row0 * hd + c + 1] = Frag<T>::from(acc[n][1] * inv0);
    }
    if (row1 < lq) {
      if (c < d) ob[row1 * hd + c] = Frag<T>::from(acc[n][2] * inv1);
      if (c + 1 < d) ob[row1 * hd + c + 1] = Frag<T>::from(acc[n][3] * inv1);
    }
  }
}

template <typename T, int DP, bool VEC>
void launch(const void* q, const void* k, const void* v, void* o, int64_t b, int64_t lq, int64_t lk, int64_t heads,
            int64_t d, bool causal, float scale) {
  constexpr size_t bytes = static_cast<size_t>(kRows + 4 * kKeys) * (DP + 8) * sizeof(T);
  static const bool configured = [] {
    cudaFuncSetAttribute(flash_fwd_k<T, DP, VEC>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                         static_cast<int>(bytes));
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>((lq + kRows - 1) / kRows), static_cast<unsigned>(b * heads));
  flash_fwd_k<T, DP, VEC><<<grid, kBlock, bytes>>>(static_cast<const T*>(q), static_cast<const T*>(k),
                                                   static_cast<const T*>(v), static_cast<T*>(o), lq, lk,
                                                   static_cast<int>(heads), static_cast<int>(d), causal,
                                                   scale * 1.44269504088896341f);
}

template <typename T>
bool dispatch_dp(const void* q, const void* k, const void* v, void* o, int64_t b, int64_t lq, int64_t lk,
                 int64_t heads, int64_t d, bool causal, float scale) {
  // 16-byte copies need 8-element aligned head slices and 16-byte aligned base pointers
  const bool vec = d % 8 == 0 && ((reinterpret_cast<uintptr_t>(q) | reinterpret_cast<uintptr_t>(k) |
                                   reinterpret_cast<uintptr_t>(v)) % 16) == 0;
  if (!vec) {
    if (d > 16) return false;  // unaligned wide heads: the GEMM path
    launch<T, 16, false>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
    return true;
  }
  if (d <= 16) launch<T, 16, true>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 48) launch<T, 48, true>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 64) launch<T, 64, true>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 80) launch<T, 80, true>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 128) launch<T, 128, true>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 160) launch<T, 160, true>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else return false;
  return true;
}

}  // namespace

bool flash_attention(Elem dt, const void* q, const void* k, const void* v, void* o, int64_t b, int64_t lq, int64_t lk,
                     int64_t heads, int64_t d, bool causal, float scale) {
  if (b * heads > 65535 || lq == 0 || lk == 0) return false;
  bool ok = false;
  if (dt == Elem::F16) ok = dispatch_dp<__half>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (dt == Elem::BF16) ok = dispatch_dp<__nv_bfloat16>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  if (ok) check_launch("flash_attention");
  return ok;
}

}  // namespace ls::cuda::k
