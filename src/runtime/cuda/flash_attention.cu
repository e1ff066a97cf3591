// Fused multi-head attention for F16 / BF16 (runtime/cuda/kernels.h, k::flash_attention): the online-softmax
// tiling of FlashAttention (Dao et al. 2022, "FlashAttention: Fast and Memory-Efficient Exact Attention with
// IO-Awareness", algorithm 1), written with the WMMA tensor-core API (16×16×16 tiles, fp32 accumulation).
//
// One block = 4 warps = 64 query rows of one (sample, head); each warp owns 16 rows. Per 64-key tile: K and V
// tiles to shared memory, S = Q·Kᵀ (fp32) per warp, online softmax on S in fp32 (running max m and sum l per
// row, O rescaled by exp(m_old − m_new)), P (16-bit) · V accumulated into the fp32 O in shared memory. The head
// dimension is zero-padded to DP (a multiple of 16). Scores never reach global memory.
//
// Status: exact (tests/gpu FlashAttentionMatchesGemmPathAndCpu) but 1.7× slower than the GEMM path on the H200
// for SD1.5's 4096-token self-attention, so it is opt-in (LORASTACK_ATTENTION=flash). Known costs: O lives in
// shared memory and makes a round trip per key tile, only 4 warps per block, no double-buffered K/V loads, WMMA
// instead of Hopper's wgmma.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include "runtime/cuda/kernels.h"

namespace ls::cuda::k {
namespace {

using namespace nvcuda;

template <typename T> __device__ __forceinline__ T stf(float v);
template <> __device__ __forceinline__ __half stf<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 stf<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

constexpr int kRows = 64;   // query rows per block
constexpr int kKeys = 64;   // keys per tile
constexpr int kWarps = 4;

template <typename T, int DP> constexpr size_t smem_bytes() {
  return (3 * kRows * DP + kRows * kKeys) * sizeof(T) + (kRows * kKeys + kRows * DP + 2 * kRows) * sizeof(float);
}

template <typename T, int DP>
__global__ void __launch_bounds__(kWarps * 32) flash_k(const T* __restrict__ q, const T* __restrict__ k,
                                                        const T* __restrict__ v, T* __restrict__ o, int64_t lq,
                                                        int64_t lk, int heads, int d, bool causal, float scale) {
  extern __shared__ __align__(128) unsigned char smem[];
  T* Qs = reinterpret_cast<T*>(smem);
  T* Ks = Qs + kRows * DP;
  T* Vs = Ks + kKeys * DP;
  T* Ps = Vs + kKeys * DP;
  float* Ss = reinterpret_cast<float*>(Ps + kRows * kKeys);
  float* Os = Ss + kRows * kKeys;
  float* M = Os + kRows * DP;
  float* L = M + kRows;

  const int bh = blockIdx.y, b = bh / heads, h = bh % heads;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * kRows, hd = static_cast<int64_t>(heads) * d;
  const T* qb = q + b * lq * hd + h * d;
  const T* kb = k + b * lk * hd + h * d;
  const T* vb = v + b * lk * hd + h * d;
  T* ob = o + b * lq * hd + h * d;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const T zero = stf<T>(0.0f);

  for (int i = tid; i < kRows * DP; i += kWarps * 32) {
    const int r = i / DP, c = i % DP;
    const int64_t qr = q0 + r;
    Qs[i] = (qr < lq && c < d) ? qb[qr * hd + c] : zero;
    Os[i] = 0.0f;
  }
  if (tid < kRows) {
    M[tid] = -INFINITY;
    L[tid] = 0.0f;
  }
  const int64_t kend = causal ? (lk < q0 + kRows ? lk : q0 + kRows) : lk;
  for (int64_t k0 = 0; k0 < kend; k0 += kKeys) {
    __syncthreads();  // previous tile's K/V fully consumed (and Q/O initialised on the first pass)
    for (int i = tid; i < kKeys * DP; i += kWarps * 32) {
      const int r = i / DP, c = i % DP;
      const int64_t kr = k0 + r;
      const bool ok = kr < lk && c < d;
      Ks[i] = ok ? kb[kr * hd + c] : zero;
      Vs[i] = ok ? vb[kr * hd + c] : zero;
    }
    __syncthreads();
    {  // S [16 rows of this warp, 64 keys] = Q · Kᵀ
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kKeys / 16];
#pragma unroll
      for (int j = 0; j < kKeys / 16; ++j) wmma::fill_fragment(acc[j], 0.0f);
#pragma unroll
      for (int kk = 0; kk < DP; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::load_matrix_sync(a, Qs + warp * 16 * DP + kk, DP);
#pragma unroll
        for (int j = 0; j < kKeys / 16; ++j) {
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> bf;
          wmma::load_matrix_sync(bf, Ks + j * 16 * DP + kk, DP);
          wmma::mma_sync(acc[j], a, bf, acc[j]);
        }
      }
#pragma unroll
      for (int j = 0; j < kKeys / 16; ++j)
        wmma::store_matrix_sync(Ss + warp * 16 * kKeys + j * 16, acc[j], kKeys, wmma::mem_row_major);
    }
    __syncwarp();
    for (int rr = 0; rr < 16; ++rr) {  // online softmax of this warp's rows; lanes cover 2 keys each
      const int r = warp * 16 + rr;
      const int64_t qi = q0 + r;
      float x[2];
#pragma unroll
      for (int t = 0; t < 2; ++t) {
        const int c = lane + 32 * t;
        const int64_t kj = k0 + c;
        x[t] = (kj >= lk || (causal && kj > qi)) ? -INFINITY : Ss[r * kKeys + c] * scale;
      }
      float mx = fmaxf(x[0], x[1]);
      for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      const float m_old = M[r], m_new = fmaxf(m_old, mx);
      float p[2], sum = 0.0f;
#pragma unroll
      for (int t = 0; t < 2; ++t) {
        p[t] = m_new == -INFINITY ? 0.0f : expf(x[t] - m_new);
        sum += p[t];
        Ps[r * kKeys + lane + 32 * t] = stf<T>(p[t]);
      }
      for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      const float corr = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
      for (int c = lane; c < DP; c += 32) Os[r * DP + c] *= corr;
      __syncwarp();
      if (lane == 0) {
        M[r] = m_new;
        L[r] = L[r] * corr + sum;
      }
    }
    __syncwarp();
#pragma unroll
    for (int n0 = 0; n0 < DP; n0 += 16) {  // O [16 rows, DP] += P [16, 64] · V [64, DP]
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, Os + warp * 16 * DP + n0, DP, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kKeys; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bf;
        wmma::load_matrix_sync(a, Ps + warp * 16 * kKeys + kk, kKeys);
        wmma::load_matrix_sync(bf, Vs + kk * DP + n0, DP);
        wmma::mma_sync(acc, a, bf, acc);
      }
      wmma::store_matrix_sync(Os + warp * 16 * DP + n0, acc, DP, wmma::mem_row_major);
    }
  }
  __syncthreads();
  for (int i = tid; i < kRows * DP; i += kWarps * 32) {
    const int r = i / DP, c = i % DP;
    const int64_t qr = q0 + r;
    if (qr < lq && c < d) ob[qr * hd + c] = stf<T>(Os[i] / L[r]);
  }
}

template <typename T, int DP>
void launch(const void* q, const void* k, const void* v, void* o, int64_t b, int64_t lq, int64_t lk, int64_t heads,
            int64_t d, bool causal, float scale) {
  constexpr size_t bytes = smem_bytes<T, DP>();
  static const bool configured = [] {
    cudaFuncSetAttribute(flash_k<T, DP>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    return true;
  }();
  (void)configured;
  const dim3 grid(static_cast<unsigned>((lq + kRows - 1) / kRows), static_cast<unsigned>(b * heads));
  flash_k<T, DP><<<grid, kWarps * 32, bytes>>>(static_cast<const T*>(q), static_cast<const T*>(k),
                                               static_cast<const T*>(v), static_cast<T*>(o), lq, lk,
                                               static_cast<int>(heads), static_cast<int>(d), causal, scale);
}

template <typename T>
bool dispatch_dp(const void* q, const void* k, const void* v, void* o, int64_t b, int64_t lq, int64_t lk,
                 int64_t heads, int64_t d, bool causal, float scale) {
  if (d <= 16) launch<T, 16>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 48) launch<T, 48>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 64) launch<T, 64>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 80) launch<T, 80>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 128) launch<T, 128>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
  else if (d <= 160) launch<T, 160>(q, k, v, o, b, lq, lk, heads, d, causal, scale);
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
