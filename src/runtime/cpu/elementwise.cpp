// Activations, broadcast arithmetic and softmax (references: the torch functions of the same names;
// GELU: Hendrycks & Gimpel 2016, exact erf form; QuickGELU: CLIP, x·σ(1.702x); GEGLU: Shazeer 2020).
#include <cmath>
#include <cstring>

#include "runtime/cpu/kernels.h"
#include "runtime/cpu/vmath.h"

namespace ls::cpu {
namespace {

constexpr int64_t kParallelMin = 32768;  // below this many elements, stay single-threaded

template <typename F>
void map_chunks(int64_t n, F&& f) {
  constexpr int64_t kChunk = 16384;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (n > kParallelMin)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t b = ch * kChunk, e = b + kChunk < n ? b + kChunk : n;
    f(b, e);
  }
}

}  // namespace

void unary(Unary f, const float* x, float* y, int64_t n) {
  switch (f) {
    case Unary::SiLU:
      map_chunks(n, [&](int64_t b, int64_t e) {
        sigmoid_gate(x + b, y + b, e - b, 1.0f);
      });
      break;
    case Unary::QuickGELU:
      map_chunks(n, [&](int64_t b, int64_t e) {
        sigmoid_gate(x + b, y + b, e - b, 1.702f);
      });
      break;
    case Unary::GELU:
      map_chunks(n, [&](int64_t b, int64_t e) {
        gelu_erf(x + b, y + b, e - b);
      });
      break;
  }
}

void geglu(const float* x, float* y, int64_t rows, int64_t c) {
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (rows * c > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* val = x + r * 2 * c;
    const float* gate = val + c;
    float* o = y + r * c;
    gelu_erf(gate, o, c);
    for (int64_t i = 0; i < c; ++i) o[i] *= val[i];
  }
}

namespace {
template <typename Op>
void binary_impl(Op op, Bcast mode, const float* a, const float* b, float* y, int64_t n_a, int64_t n_b, int64_t inner) {
  switch (mode) {
    case Bcast::Same:
      map_chunks(n_a, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) y[i] = op(a[i], b[i]);
      });
      break;
    case Bcast::Scalar: {
      const float bv = b[0];
      map_chunks(n_a, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) y[i] = op(a[i], bv);
      });
      break;
    }
    case Bcast::Suffix: {
      const int64_t reps = n_a / n_b;
      const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (n_a > kParallelMin)
      for (int64_t r = 0; r < reps; ++r)
        for (int64_t i = 0; i < n_b; ++i) y[r * n_b + i] = op(a[r * n_b + i], b[i]);
      break;
    }
    case Bcast::PerChannel: {
      const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (n_a > kParallelMin)
      for (int64_t r = 0; r < n_b; ++r) {
        const float bv = b[r];
        for (int64_t i = 0; i < inner; ++i) y[r * inner + i] = op(a[r * inner + i], bv);
      }
      break;
    }
  }
}
}  // namespace

void binary(Binary op, Bcast mode, const float* a, const float* b, float* y, int64_t n_a, int64_t n_b, int64_t inner) {
  switch (op) {
    case Binary::Add: binary_impl([](float p, float q) { return p + q; }, mode, a, b, y, n_a, n_b, inner); break;
    case Binary::Sub: binary_impl([](float p, float q) { return p - q; }, mode, a, b, y, n_a, n_b, inner); break;
    case Binary::Mul: binary_impl([](float p, float q) { return p * q; }, mode, a, b, y, n_a, n_b, inner); break;
  }
}

void axpby(float a, const float* x, float b, const float* z, float* y, int64_t n) {
  map_chunks(n, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) y[i] = a * x[i] + b * z[i];
  });
}

void softmax(const float* x, float* y, int64_t rows, int64_t cols) {
  if (cols == 0) return;
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    if (x != y) std::memcpy(y + r * cols, x + r * cols, static_cast<size_t>(cols) * sizeof(float));
    softmax_row(y + r * cols, cols);
  }
}

}  // namespace ls::cpu
