// Float math for the hot element-wise kernels (softmax, SiLU, QuickGELU, fused GroupNorm+SiLU).
// exp follows the classic Cephes expf scheme: x = n·ln2 + r (ln2 split in two for exactness), a degree-6
// polynomial for e^r, 2^n through the exponent bits; max relative error ≈ 2 ulp over [−87, 88].
// With AVX2+FMA the 8-wide versions are used; scalar versions handle tails and other targets.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define LS_VMATH_AVX2 1
#endif

namespace ls::cpu {

/// e^x; inputs below −87.3 (and −inf) give 0, above 88.37 saturate to ≈2.4e38; NaN gives a NaN-free
/// clamp result (callers never pass NaN on purpose).
inline float exp_approx(float x0) {
  float x = x0 < -87.33654f ? -87.33654f : (x0 > 88.37626f ? 88.37626f : x0);
  float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float e = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x0 < -87.33654f ? 0.0f : e * scale;
}

#ifdef LS_VMATH_AVX2
/// 8-wide exp_approx (same polynomial, same clamping).
inline __m256 exp8(__m256 x0) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  __m256 x = _mm256_min_ps(_mm256_max_ps(x0, lo), _mm256_set1_ps(88.37626f));
  __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 e = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(e, _mm256_castsi256_ps(bits));
  return _mm256_andnot_ps(_mm256_cmp_ps(x0, lo, _CMP_LT_OQ), y);  // below range (incl. −inf) → 0
}

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

/// y[i] = x[i]·σ(a·x[i]) = x/(1+e^(−a·x)) for n values (SiLU for a = 1, QuickGELU for a = 1.702).
inline void sigmoid_gate(const float* x, float* y, int64_t n, float a) {
  int64_t i = 0;
#ifdef LS_VMATH_AVX2
  const __m256 one = _mm256_set1_ps(1.0f), na = _mm256_set1_ps(-a);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 e = exp8(_mm256_mul_ps(v, na));
    _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, e)));
  }
#endif
  for (; i < n; ++i) y[i] = x[i] / (1.0f + exp_approx(-a * x[i]));
}

/// Exact-form GELU x·Φ(x), Φ(x) = ½·erfc(−x/√2) (Hendrycks & Gimpel 2016; torch's default, non-tanh
/// form) for n values (y may alias x). erfc(z), z ≥ 0, uses the Chebyshev fit of Numerical Recipes
/// (Press et al., 2nd ed., §6.2, "erfcc": relative error < 1.2e-7 everywhere), so Φ keeps its relative
/// accuracy in the far negative tail; Φ(x) = 1 − ½erfc(z) for x ≥ 0.
inline void gelu_erf(const float* x, float* y, int64_t n) {
  constexpr float c[10] = {-1.26551223f, 1.00002368f, 0.37409196f, 0.09678418f, -0.18628806f,
                           0.27886807f,  -1.13520398f, 1.48851587f, -0.82215223f, 0.17087277f};
  constexpr float rs2 = 0.70710678118654752f;
  int64_t i = 0;
#ifdef LS_VMATH_AVX2
  const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f), sign = _mm256_set1_ps(-0.0f);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, v), _mm256_set1_ps(rs2));
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
    __m256 poly = _mm256_set1_ps(c[9]);
    for (int k = 8; k >= 0; --k) poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(c[k]));
    __m256 q = _mm256_mul_ps(t, exp8(_mm256_fnmadd_ps(z, z, poly)));  // erfc(z)
    __m256 hq = _mm256_mul_ps(half, q);
    __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(one, hq), hq, v);  // sign bit of v set → Φ = ½erfc
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, phi));
  }
#endif
  for (; i < n; ++i) {
    const float v = x[i], z = std::fabs(v) * rs2;
    const float t = 1.0f / (1.0f + 0.5f * z);
    float poly = c[9];
    for (int k = 8; k >= 0; --k) poly = poly * t + c[k];
    const float q = t * exp_approx(poly - z * z);
    y[i] = v * (v < 0.0f ? 0.5f * q : 1.0f - 0.5f * q);
  }
}

/// In-place e^(x − max) of one row of n ≥ 1 values; returns their fp32 sum (the softmax denominator).
inline float softmax_row_unnormalized(float* row, int64_t n) {
  int64_t i = 0;
  float mx = row[0];
#ifdef LS_VMATH_AVX2
  if (n >= 8) {
    __m256 m = _mm256_loadu_ps(row);
    for (i = 8; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(row + i));
    mx = hmax8(m);
  }
#endif
  for (; i < n; ++i) mx = row[i] > mx ? row[i] : mx;
  float sum = 0.0f;
  i = 0;
#ifdef LS_VMATH_AVX2
  {
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
      __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(row + i), vm));
      _mm256_storeu_ps(row + i, e);
      acc = _mm256_add_ps(acc, e);
    }
    sum = hsum8(acc);
  }
#endif
  for (; i < n; ++i) {
    float e = exp_approx(row[i] - mx);
    row[i] = e;
    sum += e;
  }
  return sum;
}

/// In-place softmax of one row of n ≥ 1 values: max-subtracted, fp32 sum.
inline void softmax_row(float* row, int64_t n) {
  const float inv = 1.0f / softmax_row_unnormalized(row, n);
  for (int64_t i = 0; i < n; ++i) row[i] *= inv;
}

}  // namespace ls::cpu
