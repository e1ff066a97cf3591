// Element conversions between storage dtypes and F32.
// Formats: IEEE 754 binary16; bfloat16 (top half of binary32); OCP 8-bit floats E4M3FN (bias 7, no
// infinities, 0x7f/0xff = NaN, max 448) and E5M2 (bias 15, IEEE-like with inf/NaN).
#include <bit>
#include <cmath>
#include <cstring>

#include "runtime/tensor.h"

namespace ls {

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { ++e; mant <<= 1; } while (!(mant & 0x400u));
      bits = sign | ((127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow → inf
  if (absx < 0x38800000u) {  // subnormal or zero in half
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t e = absx >> 23, m = (absx & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // value = m·2^(e−150) = r·2^−24  ⇒  r = m >> (126 − e)
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = ((absx >> 13) - ((127 - 15) << 10));
  uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
  return static_cast<uint16_t>(sign | r);
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

float fp8_e4m3_to_float(uint8_t v) {
  uint32_t sign = v >> 7, exp = (v >> 3) & 0xf, mant = v & 7;
  if (exp == 15 && mant == 7) return std::nanf("");
  float r = exp == 0 ? std::ldexp(static_cast<float>(mant), -9) : std::ldexp(1.0f + mant / 8.0f, static_cast<int>(exp) - 7);
  return sign ? -r : r;
}

float fp8_e5m2_to_float(uint8_t v) { return half_to_float(static_cast<uint16_t>(v) << 8); }

namespace {
// Generic round-to-nearest-even encoder for small floats: finds the nearest representable value by
// scanning the (at most 128) non-negative codes. Simple and exact; only used when writing FP8.
template <typename Decode>
uint8_t encode_fp8(float f, Decode decode, uint8_t max_code, uint8_t nan_code) {
  if (std::isnan(f)) return nan_code;
  uint8_t sign = std::signbit(f) ? 0x80 : 0;
  float a = std::fabs(f);
  uint8_t best = 0;
  float best_err = INFINITY;
  for (uint8_t c = 0; c <= max_code; ++c) {
    float err = std::fabs(decode(c) - a);
    if (err < best_err || (err == best_err && !(c & 1))) { best = c; best_err = err; }
  }
  return static_cast<uint8_t>(sign | best);
}
}  // namespace

uint8_t float_to_fp8_e4m3(float f) { return encode_fp8(f, fp8_e4m3_to_float, 0x7e, 0x7f); }
uint8_t float_to_fp8_e5m2(float f) { return encode_fp8(f, fp8_e5m2_to_float, 0x7b, 0x7e); }

namespace {
float load_one(const void* src, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(src)[i];
    case DType::F64: return static_cast<float>(static_cast<const double*>(src)[i]);
    case DType::F16: return half_to_float(static_cast<const uint16_t*>(src)[i]);
    case DType::BF16: return bf16_to_float(static_cast<const uint16_t*>(src)[i]);
    case DType::F8_E4M3: return fp8_e4m3_to_float(static_cast<const uint8_t*>(src)[i]);
    case DType::F8_E5M2: return fp8_e5m2_to_float(static_cast<const uint8_t*>(src)[i]);
    case DType::I64: return static_cast<float>(static_cast<const int64_t*>(src)[i]);
    case DType::I32: return static_cast<float>(static_cast<const int32_t*>(src)[i]);
    case DType::I16: return static_cast<float>(static_cast<const int16_t*>(src)[i]);
    case DType::I8: return static_cast<float>(static_cast<const int8_t*>(src)[i]);
    case DType::U8: case DType::BOOL: return static_cast<float>(static_cast<const uint8_t*>(src)[i]);
  }
  return 0;
}
void store_one(void* dst, DType t, int64_t i, float v) {
  switch (t) {
    case DType::F32: static_cast<float*>(dst)[i] = v; break;
    case DType::F64: static_cast<double*>(dst)[i] = v; break;
    case DType::F16: static_cast<uint16_t*>(dst)[i] = float_to_half(v); break;
    case DType::BF16: static_cast<uint16_t*>(dst)[i] = float_to_bf16(v); break;
    case DType::F8_E4M3: static_cast<uint8_t*>(dst)[i] = float_to_fp8_e4m3(v); break;
    case DType::F8_E5M2: static_cast<uint8_t*>(dst)[i] = float_to_fp8_e5m2(v); break;
    case DType::I64: static_cast<int64_t*>(dst)[i] = static_cast<int64_t>(v); break;
    case DType::I32: static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(v); break;
    case DType::I16: static_cast<int16_t*>(dst)[i] = static_cast<int16_t>(v); break;
    case DType::I8: static_cast<int8_t*>(dst)[i] = static_cast<int8_t>(v); break;
    case DType::U8: static_cast<uint8_t*>(dst)[i] = static_cast<uint8_t>(v); break;
    case DType::BOOL: static_cast<uint8_t*>(dst)[i] = v != 0; break;
  }
}
}  // namespace

void convert_elements(const void* src, DType from, void* dst, DType to, int64_t n) {
  if (from == to) {
    std::memcpy(dst, src, static_cast<size_t>(n) * dtype_size(from));
    return;
  }
  if (from == DType::I64 && to == DType::I32) {  // keep integers exact
    for (int64_t i = 0; i < n; ++i) static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(static_cast<const int64_t*>(src)[i]);
    return;
  }
  if (from == DType::F16 && to == DType::F32) {
    const uint16_t* s = static_cast<const uint16_t*>(src);
    float* d = static_cast<float*>(dst);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; ++i) d[i] = half_to_float(s[i]);
    return;
  }
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) store_one(dst, to, i, load_one(src, from, i));
}

}  // namespace ls
