// The CUDA gradient kernels (runtime/cuda/backend.h, "gradients") and the cuDNN convolutions against references
// computed here in double precision on the CPU:
//  * every differentiable op's vector-Jacobian product by central finite differences of a naive double forward
//    (h = 1e-5; truncation and rounding error ~1e-9 relative), on small shapes;
//  * attention at SD sizes and the reductions / embedding / AdamW against their closed forms in double;
//  * F16 / BF16 results against the fp32 GPU result on larger shapes;
//  * cuDNN against the im2col + cuBLAS path (forward and both gradients) on SD1.5-like shapes;
//  * every gradient op of runtime/ops_backward.h through its dispatch, GPU inputs against CPU inputs (fp32).
// Error measure: max|got − ref| / max|ref|. Tolerances: fp32 ≤ 1e-4 (the brief's bound; observed errors are
// printed), F16 ≤ 1e-2, BF16 ≤ 3e-2 (one rounding of 8 mantissa bits ≈ 4e-3, plus 16-bit inputs).
// Needs a GPU: ctest label `gpu` only (tests/gpu.cmake).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>

#include "runtime/cuda/backend.h"
#include "runtime/ops.h"
#include "runtime/ops_backward.h"
#include "../common/double_ref.h"

namespace {

using namespace ls;
using namespace ls::testing;
using ls::testing::rel;

constexpr double kF32 = 1e-4, kF16 = 1e-2, kBF16 = 3e-2;

Tensor rnd(const Shape& s, uint32_t seed, float scale = 1.0f, float shift = 0.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(shift, scale);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = d(g);
  return t;
}

Tensor gpu(const Tensor& t, DType dt = DType::F32) { return t.to_device(Device::CUDA).to(dt); }

Vec vec(const Tensor& t) {
  const Tensor h = t.to_device(Device::CPU).to(DType::F32);
  return Vec(h.f32().begin(), h.f32().end());
}

double rel(const Tensor& got, const Vec& ref) {
  EXPECT_EQ(got.device(), Device::CUDA);
  return rel(vec(got), ref);
}
double rel(const Tensor& got, const Tensor& ref) { return rel(got, vec(ref)); }

/// Records `err ≤ tol` and prints the observed error (the numbers the notes quote).
void expect_rel(const char* what, double err, double tol) {
  std::printf("  %-58s rel err %.2e (tol %.0e)\n", what, err, tol);
  EXPECT_LE(err, tol) << what;
}

class CudaBackward : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(cuda::device_count(), 0) << "no CUDA device";
    cuda::set_conv_mode(cuda::ConvMode::Cudnn);
  }
  void TearDown() override { cuda::set_conv_mode(cuda::ConvMode::Auto); }
};

TEST_F(CudaBackward, Reductions) {
  const Tensor x = rnd({3, 5, 7, 11}, 1);
  const Vec xv = vec(x);
  Vec lead(7 * 11, 0.0), trail(15, 0.0), trail_hw(15, 0.0);
  for (size_t i = 0; i < xv.size(); ++i) {
    lead[i % 77] += xv[i];
    trail[i / 77] += xv[i];
  }
  Tensor sl = cuda::sum_leading(gpu(x), 77);
  EXPECT_EQ(shape_str(sl.shape()), "[77]");
  expect_rel("sum_leading [15,77] f32", rel(sl, lead), 1e-6);
  Tensor st = cuda::sum_trailing(gpu(x), 77);
  EXPECT_EQ(shape_str(st.shape()), "[3, 5]");
  expect_rel("sum_trailing [3,5 | 77] f32", rel(st, trail), 1e-6);
  EXPECT_EQ(shape_str(cuda::sum_trailing(gpu(x), x.numel()).shape()), "[1]");
  EXPECT_EQ(shape_str(cuda::sum_trailing(gpu(x), 11).shape()), "[3, 5, 7]");
  EXPECT_EQ(shape_str(cuda::sum_trailing(gpu(x), 35).shape()), "[33]");  // not a product of trailing dims
  // large: a loss-style total over 4M values, and bias sums over many rows; 16-bit inputs
  const Tensor big = rnd({2048, 2048}, 2, 1.0f, 0.5f);
  const Vec bv = vec(big);
  double tot = 0;
  Vec cols(2048, 0.0);
  for (size_t i = 0; i < bv.size(); ++i) {
    tot += bv[i];
    cols[i % 2048] += bv[i];
  }
  expect_rel("sum_trailing total of 4M f32", rel(cuda::sum_trailing(gpu(big), big.numel()), Vec{tot}), 1e-5);
  expect_rel("sum_leading [2048,2048] f32", rel(cuda::sum_leading(gpu(big), 2048), cols), 1e-5);
  expect_rel("sum_leading [2048,2048] f16", rel(cuda::sum_leading(gpu(big, DType::F16), 2048), cols), 2e-3);
  expect_rel("sum_leading [2048,2048] bf16", rel(cuda::sum_leading(gpu(big, DType::BF16), 2048), cols), 1e-2);
  EXPECT_THROW(cuda::sum_leading(gpu(x), 13), Error);
}

TEST_F(CudaBackward, ConvGradientsMatchFiniteDifferences) {
  struct C { int64_t n, c, h, w, o, k; int stride, pad, groups; };
  for (const C& c : {C{2, 4, 5, 6, 6, 3, 1, 1, 1}, C{1, 4, 7, 7, 4, 3, 2, 1, 2}, C{2, 6, 4, 4, 3, 1, 1, 0, 1},
                     C{1, 3, 6, 5, 4, 3, 2, 0, 1}, C{2, 4, 4, 4, 4, 1, 2, 0, 2}}) {
    const cpu::ConvShape s = conv_shape(c.n, c.c, c.h, c.w, c.o, c.k, c.stride, c.pad, c.groups);
    const Tensor x = rnd({s.n, s.c, s.h, s.w}, 10), w = rnd({s.o, s.c / s.groups, s.kh, s.kw}, 11, 0.3f),
                 gy = rnd({s.n, s.o, s.oh, s.ow}, 12);
    auto f = [&](const std::vector<Vec>& in) { return conv_ref(in[0], in[1], s); };
    const Vec gx = fd_vjp(f, {vec(x), vec(w)}, 0, vec(gy)), gw = fd_vjp(f, {vec(x), vec(w)}, 1, vec(gy));
    for (bool cudnn : {true, false}) {
      cuda::set_conv_mode(cudnn ? cuda::ConvMode::Cudnn : cuda::ConvMode::Im2col);
      const std::string tag = std::string(cudnn ? "cudnn " : "im2col ") + "k" + std::to_string(c.k) + " s" +
                              std::to_string(c.stride) + " p" + std::to_string(c.pad) + " g" + std::to_string(c.groups);
      expect_rel(("conv2d_backward_input " + tag).c_str(), rel(cuda::conv2d_backward_input(gpu(gy), gpu(w), s), gx),
                 kF32);
      expect_rel(("conv2d_backward_weight " + tag).c_str(), rel(cuda::conv2d_backward_weight(gpu(gy), gpu(x), s), gw),
                 kF32);
    }
  }
}

TEST_F(CudaBackward, CudnnMatchesIm2colAtSdShapes) {
  std::printf("  conv backend: %s\n", cuda::conv_backend().c_str());
  struct C { int64_t n, c, hw, o, k; int stride, pad, groups; };
  for (const C& c : {C{2, 320, 32, 320, 3, 1, 1, 1}, C{2, 64, 33, 128, 3, 2, 0, 1}, C{2, 320, 16, 640, 1, 1, 0, 1},
                     C{1, 32, 20, 64, 3, 1, 1, 4}}) {
    const cpu::ConvShape s = conv_shape(c.n, c.c, c.hw, c.hw, c.o, c.k, c.stride, c.pad, c.groups);
    const Tensor x = rnd({s.n, s.c, s.h, s.w}, 20), w = rnd({s.o, s.c / s.groups, s.kh, s.kw}, 21, 0.05f),
                 b = rnd({s.o}, 22), gy = rnd({s.n, s.o, s.oh, s.ow}, 23);
    const std::string tag = std::to_string(c.c) + "->" + std::to_string(c.o) + " k" + std::to_string(c.k) + " @" +
                            std::to_string(c.hw) + " g" + std::to_string(c.groups);
    for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
      const double tol = dt == DType::F32 ? 1e-5 : dt == DType::F16 ? kF16 : kBF16;
      cuda::set_conv_mode(cuda::ConvMode::Im2col);
      const Tensor y0 = cuda::conv2d(gpu(x, dt), gpu(w, dt), gpu(b, dt), s);
      const Tensor gx0 = cuda::conv2d_backward_input(gpu(gy, dt), gpu(w, dt), s);
      const Tensor gw0 = cuda::conv2d_backward_weight(gpu(gy, dt), gpu(x, dt), s);
      cuda::set_conv_mode(cuda::ConvMode::Cudnn);
      const Tensor y1 = cuda::conv2d(gpu(x, dt), gpu(w, dt), gpu(b, dt), s);
      const Tensor gx1 = cuda::conv2d_backward_input(gpu(gy, dt), gpu(w, dt), s);
      const Tensor gw1 = cuda::conv2d_backward_weight(gpu(gy, dt), gpu(x, dt), s);
      const std::string d = std::string(" ") + dtype_name(dt) + " " + tag;
      cuda::set_conv_mode(cuda::ConvMode::Auto);  // first call times both, second uses the pick
      for (int rep = 0; rep < 2; ++rep) {
        expect_rel(("auto vs im2col forward" + d).c_str(), rel(cuda::conv2d(gpu(x, dt), gpu(w, dt), gpu(b, dt), s), y0),
                   tol);
        expect_rel(("auto vs im2col backward-data" + d).c_str(),
                   rel(cuda::conv2d_backward_input(gpu(gy, dt), gpu(w, dt), s), gx0), tol);
        expect_rel(("auto vs im2col backward-filter" + d).c_str(),
                   rel(cuda::conv2d_backward_weight(gpu(gy, dt), gpu(x, dt), s), gw0), tol);
      }
      expect_rel(("cudnn vs im2col forward" + d).c_str(), rel(y1, y0), tol);
      expect_rel(("cudnn vs im2col backward-data" + d).c_str(), rel(gx1, gx0), tol);
      expect_rel(("cudnn vs im2col backward-filter" + d).c_str(), rel(gw1, gw0), tol);
    }
  }
}

TEST_F(CudaBackward, ResamplingGradients) {
  const Tensor gy = rnd({2, 3, 10, 14}, 30);
  for (DType dt : {DType::F32, DType::BF16}) {
    const Vec g = vec(gpu(gy, dt));  // the values as stored in dt
    Vec up(2 * 3 * 5 * 7, 0.0), cr(2 * 3 * 8 * 9);
    for (int64_t p = 0; p < 6; ++p)
      for (int64_t y = 0; y < 10; ++y)
        for (int64_t x = 0; x < 14; ++x) {
          up[(p * 5 + y / 2) * 7 + x / 2] += g[(p * 10 + y) * 14 + x];
          if (y < 8 && x < 9) cr[(p * 8 + y) * 9 + x] = g[(p * 10 + y) * 14 + x];
        }
    const std::string d = dtype_name(dt);
    const Tensor u = cuda::upsample_nearest2x_backward(gpu(gy, dt));
    EXPECT_EQ(shape_str(u.shape()), "[2, 3, 5, 7]");
    expect_rel(("upsample_nearest2x_backward " + d).c_str(), rel(u, up), dt == DType::F32 ? 1e-6 : 1e-2);
    const Tensor c = cuda::crop(gpu(gy, dt), 8, 9);
    EXPECT_EQ(shape_str(c.shape()), "[2, 3, 8, 9]");
    expect_rel(("crop " + d).c_str(), rel(c, cr), 0.0);
  }
  EXPECT_THROW(cuda::crop(gpu(gy), 11, 3), Error);
}

TEST_F(CudaBackward, NormGradientsMatchFiniteDifferences) {
  for (bool silu : {false, true}) {
    const int64_t n = 2, c = 8, groups = 4;
    const Tensor x = rnd({n, c, 3, 5}, 40, 2.0f, 0.3f), g = rnd({c}, 41, 1.0f, 1.0f), b = rnd({c}, 42),
                 gy = rnd({n, c, 3, 5}, 43);
    const double eps = 1e-5;
    auto f = [&](const std::vector<Vec>& in) { return group_norm_ref(in[0], in[1], in[2], n, c, groups, eps, silu); };
    const std::vector<Vec> in{vec(x), vec(g), vec(b)};
    const auto got = cuda::group_norm_backward(gpu(gy), gpu(x), groups, gpu(g), gpu(b), 1e-5f, silu);
    ASSERT_EQ(got.size(), 3u);
    const std::string t = silu ? " (fused SiLU)" : "";
    expect_rel(("group_norm_backward gx" + t).c_str(), rel(got[0], fd_vjp(f, in, 0, vec(gy))), kF32);
    expect_rel(("group_norm_backward ggamma" + t).c_str(), rel(got[1], fd_vjp(f, in, 1, vec(gy))), kF32);
    expect_rel(("group_norm_backward gbeta" + t).c_str(), rel(got[2], fd_vjp(f, in, 2, vec(gy))), kF32);
  }
  {
    const Tensor x = rnd({2, 3, 24}, 44, 1.5f, -0.2f), g = rnd({24}, 45, 1.0f, 1.0f), b = rnd({24}, 46),
                 gy = rnd({2, 3, 24}, 47);
    auto f = [&](const std::vector<Vec>& in) { return layer_norm_ref(in[0], in[1], in[2], 1e-5); };
    const std::vector<Vec> in{vec(x), vec(g), vec(b)};
    const auto got = cuda::layer_norm_backward(gpu(gy), gpu(x), gpu(g), 1e-5f);
    ASSERT_EQ(got.size(), 3u);
    expect_rel("layer_norm_backward gx", rel(got[0], fd_vjp(f, in, 0, vec(gy))), kF32);
    expect_rel("layer_norm_backward ggamma", rel(got[1], fd_vjp(f, in, 1, vec(gy))), kF32);
    expect_rel("layer_norm_backward gbeta", rel(got[2], fd_vjp(f, in, 2, vec(gy))), kF32);
  }
}

TEST_F(CudaBackward, NormGradientsHalfPrecisionAtSdShapes) {
  // 16-bit results against the fp32 GPU result (itself checked against finite differences above)
  const Tensor x = rnd({2, 320, 32, 32}, 50, 1.0f, 0.1f), g = rnd({320}, 51, 0.2f, 1.0f), b = rnd({320}, 52, 0.2f),
               gy = rnd({2, 320, 32, 32}, 53);
  const Tensor t = rnd({2, 1024, 320}, 54), tg = rnd({2, 1024, 320}, 55);
  const auto ref = cuda::group_norm_backward(gpu(gy), gpu(x), 32, gpu(g), gpu(b), 1e-5f, true);
  const auto lref = cuda::layer_norm_backward(gpu(tg), gpu(t), gpu(g), 1e-5f);
  for (DType dt : {DType::F16, DType::BF16}) {
    const double tol = dt == DType::F16 ? kF16 : kBF16;
    const std::string d = std::string(" ") + dtype_name(dt);
    const auto got = cuda::group_norm_backward(gpu(gy, dt), gpu(x, dt), 32, gpu(g, dt), gpu(b, dt), 1e-5f, true);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(got[i].dtype(), dt);
      expect_rel(("group_norm_backward+silu [2,320,32,32] out " + std::to_string(i) + d).c_str(), rel(got[i], ref[i]),
                 tol);
    }
    const auto lgot = cuda::layer_norm_backward(gpu(tg, dt), gpu(t, dt), gpu(g, dt), 1e-5f);
    for (int i = 0; i < 3; ++i)
      expect_rel(("layer_norm_backward [2,1024,320] out " + std::to_string(i) + d).c_str(), rel(lgot[i], lref[i]), tol);
  }
}

TEST_F(CudaBackward, ActivationGradients) {
  const Tensor x = rnd({3, 7, 10}, 60, 2.0f), gy = rnd({3, 7, 10}, 61), gy_half = rnd({3, 7, 5}, 62);
  for (cpu::Unary f : {cpu::Unary::SiLU, cpu::Unary::GELU, cpu::Unary::QuickGELU}) {
    auto fw = [&](const std::vector<Vec>& in) {
      Vec y(in[0].size());
      for (size_t i = 0; i < y.size(); ++i) y[i] = unary_ref(f, in[0][i]);
      return y;
    };
    const char* name = f == cpu::Unary::SiLU ? "silu" : f == cpu::Unary::GELU ? "gelu" : "quick_gelu";
    const Vec ref = fd_vjp(fw, {vec(x)}, 0, vec(gy));
    expect_rel((std::string("unary_backward ") + name).c_str(), rel(cuda::unary_backward(f, gpu(x), gpu(gy)), ref),
               kF32);
    expect_rel((std::string("unary_backward bf16 ") + name).c_str(),
               rel(cuda::unary_backward(f, gpu(x, DType::BF16), gpu(gy, DType::BF16)), ref), kBF16);
  }
  {
    auto fw = [&](const std::vector<Vec>& in) {
      const size_t rows = in[0].size() / 10;
      Vec y(rows * 5);
      for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < 5; ++j) y[r * 5 + j] = in[0][r * 10 + j] * unary_ref(cpu::Unary::GELU, in[0][r * 10 + 5 + j]);
      return y;
    };
    const Vec ref = fd_vjp(fw, {vec(x)}, 0, vec(gy_half));
    expect_rel("geglu_backward", rel(cuda::geglu_backward(gpu(x), gpu(gy_half)), ref), kF32);
    expect_rel("geglu_backward f16", rel(cuda::geglu_backward(gpu(x, DType::F16), gpu(gy_half, DType::F16)), ref), kF16);
  }
  {
    auto fw = [&](const std::vector<Vec>& in) { return softmax_ref(in[0], 10); };
    const Vec ref = fd_vjp(fw, {vec(x)}, 0, vec(gy));
    const Vec y = softmax_ref(vec(x), 10);
    Tensor yt = Tensor::empty(x.shape());
    for (size_t i = 0; i < y.size(); ++i) yt.f32()[i] = static_cast<float>(y[i]);
    expect_rel("softmax_backward", rel(cuda::softmax_backward(gpu(yt), gpu(gy)), ref), kF32);
    expect_rel("softmax_backward f16", rel(cuda::softmax_backward(gpu(yt, DType::F16), gpu(gy, DType::F16)), ref), kF16);
  }
}

/// Closed-form attention gradients in double: P, dV = PᵀdO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P)),
/// dQ = scale·dS·K, dK = scale·dSᵀ·Q (checked against finite differences in AttentionGradients).
std::vector<Vec> attention_grad_ref(const Vec& q, const Vec& k, const Vec& v, const Vec& go, int64_t b, int64_t lq,
                                    int64_t lk, int64_t heads, bool causal) {
  const int64_t hd = q.size() / (b * lq), d = hd / heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  Vec gq(q.size(), 0.0), gk(k.size(), 0.0), gv(v.size(), 0.0), p(lk), dp(lk);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < lq; ++i) {
        const double* qi = &q[(bi * lq + i) * hd + h * d];
        const double* goi = &go[(bi * lq + i) * hd + h * d];
        double mx = -INFINITY;
        for (int64_t j = 0; j < lk; ++j) {
          double s = 0;
          for (int64_t e = 0; e < d; ++e) s += qi[e] * k[(bi * lk + j) * hd + h * d + e];
          p[j] = (causal && j > i) ? -INFINITY : s * scale;
          mx = std::max(mx, p[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < lk; ++j) sum += (p[j] = std::exp(p[j] - mx));
        double dot = 0;
        for (int64_t j = 0; j < lk; ++j) {
          p[j] /= sum;
          double s = 0;
          for (int64_t e = 0; e < d; ++e) s += goi[e] * v[(bi * lk + j) * hd + h * d + e];
          dp[j] = s;
          dot += p[j] * s;
        }
        for (int64_t j = 0; j < lk; ++j) {
          const double ds = p[j] * (dp[j] - dot) * scale;
          for (int64_t e = 0; e < d; ++e) {
            gv[(bi * lk + j) * hd + h * d + e] += p[j] * goi[e];
            gq[(bi * lq + i) * hd + h * d + e] += ds * k[(bi * lk + j) * hd + h * d + e];
            gk[(bi * lk + j) * hd + h * d + e] += ds * qi[e];
          }
        }
      }
  return {gq, gk, gv};
}

TEST_F(CudaBackward, AttentionGradients) {
  {  // small: finite differences of the double forward, plain and causal
    struct C { int64_t b, lq, lk, heads, d; bool causal; };
    for (const C& c : {C{2, 5, 7, 2, 4, false}, C{1, 6, 6, 2, 3, true}}) {
      const Tensor q = rnd({c.b, c.lq, c.heads * c.d}, 70), k = rnd({c.b, c.lk, c.heads * c.d}, 71),
                   v = rnd({c.b, c.lk, c.heads * c.d}, 72), go = rnd({c.b, c.lq, c.heads * c.d}, 73);
      auto f = [&](const std::vector<Vec>& in) {
        return attention_ref(in[0], in[1], in[2], c.b, c.lq, c.lk, c.heads, c.causal);
      };
      const std::vector<Vec> in{vec(q), vec(k), vec(v)};
      const auto got = cuda::attention_backward(gpu(q), gpu(k), gpu(v), gpu(go), static_cast<int>(c.heads), c.causal);
      ASSERT_EQ(got.size(), 3u);
      const auto closed = attention_grad_ref(in[0], in[1], in[2], vec(go), c.b, c.lq, c.lk, c.heads, c.causal);
      const char* names[3] = {"gq", "gk", "gv"};
      for (int i = 0; i < 3; ++i) {
        const Vec fd = fd_vjp(f, in, i, vec(go));
        expect_rel((std::string("attention_backward small ") + names[i] + (c.causal ? " causal" : "")).c_str(),
                   rel(got[i], fd), kF32);
        expect_rel((std::string("closed-form reference vs finite differences ") + names[i]).c_str(), rel(closed[i], fd),
                   1e-6);
      }
    }
  }
  // SD1.5 cross-attention size and a causal CLIP-like size: closed form in double; F16 / BF16 too
  struct C { int64_t b, lq, lk, heads, d; bool causal; };
  for (const C& c : {C{2, 256, 77, 8, 40, false}, C{1, 77, 77, 12, 64, true}, C{1, 1024, 1024, 8, 40, false}}) {
    const Tensor q = rnd({c.b, c.lq, c.heads * c.d}, 80), k = rnd({c.b, c.lk, c.heads * c.d}, 81),
                 v = rnd({c.b, c.lk, c.heads * c.d}, 82), go = rnd({c.b, c.lq, c.heads * c.d}, 83);
    const auto ref = attention_grad_ref(vec(q), vec(k), vec(v), vec(go), c.b, c.lq, c.lk, c.heads, c.causal);
    const std::string tag = std::to_string(c.lq) + "x" + std::to_string(c.lk) + " h" + std::to_string(c.heads) + " d" +
                            std::to_string(c.d) + (c.causal ? " causal" : "");
    const char* names[3] = {"gq", "gk", "gv"};
    for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
      const double tol = dt == DType::F32 ? kF32 : dt == DType::F16 ? kF16 : kBF16;
      const auto got = cuda::attention_backward(gpu(q, dt), gpu(k, dt), gpu(v, dt), gpu(go, dt),
                                                static_cast<int>(c.heads), c.causal);
      for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(got[i].dtype(), dt);
        expect_rel(("attention_backward " + tag + " " + names[i] + " " + dtype_name(dt)).c_str(), rel(got[i], ref[i]),
                   tol);
      }
    }
  }
}

TEST_F(CudaBackward, EmbeddingAndAdamW) {
  const Tensor gy = rnd({2, 9, 16}, 90);
  Tensor ids = Tensor::empty({2, 9}, DType::I64);
  for (int64_t i = 0; i < 18; ++i) ids.data<int64_t>()[i] = (i * 7) % 5;  // repeated ids accumulate
  const Vec g = vec(gy);
  Vec ref(10 * 16, 0.0);
  for (int64_t i = 0; i < 18; ++i)
    for (int64_t c = 0; c < 16; ++c) ref[ids.data<int64_t>()[i] * 16 + c] += g[i * 16 + c];
  const Tensor e = cuda::embedding_backward(gpu(gy), ids, 10);
  EXPECT_EQ(shape_str(e.shape()), "[10, 16]");
  expect_rel("embedding_backward I64", rel(e, ref), 1e-6);
  expect_rel("embedding_backward I32 bf16", rel(cuda::embedding_backward(gpu(gy, DType::BF16), ids.to(DType::I32), 10), ref),
             kBF16);
  ids.data<int64_t>()[4] = 10;
  EXPECT_THROW(cuda::embedding_backward(gpu(gy), ids, 10), Error);

  // three AdamW steps against torch.optim.AdamW's update written out in double
  const int64_t n = 1000;
  const Tensor p0 = rnd({n}, 91), grads[3] = {rnd({n}, 92), rnd({n}, 93, 0.1f), rnd({n}, 94, 3.0f)};
  // the hyper-parameters as the kernel sees them (fp32): 1 − β2 in double from 0.999f, not 0.999
  const double lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f;
  for (DType gdt : {DType::F32, DType::BF16}) {
    Tensor dp = gpu(p0), dm = Tensor::zeros({n}, DType::F32, Device::CUDA), dv = Tensor::zeros({n}, DType::F32, Device::CUDA);
    Vec rp = vec(p0), rm(n, 0.0), rv(n, 0.0);
    for (int64_t step = 1; step <= 3; ++step) {
      const Vec gg = vec(gpu(grads[step - 1], gdt));
      for (int64_t i = 0; i < n; ++i) {
        rp[i] *= 1 - lr * wd;
        rm[i] = b1 * rm[i] + (1 - b1) * gg[i];
        rv[i] = b2 * rv[i] + (1 - b2) * gg[i] * gg[i];
        const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
        rp[i] -= lr / bc1 * rm[i] / (std::sqrt(rv[i]) / std::sqrt(bc2) + eps);
      }
      cuda::adamw_step(dp, gpu(grads[step - 1], gdt), dm, dv, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
    }
    const std::string d = std::string(" (grad ") + dtype_name(gdt) + ")";
    expect_rel(("adamw_step param after 3 steps" + d).c_str(), rel(dp, rp), 1e-5);
    expect_rel(("adamw_step m" + d).c_str(), rel(dm, rm), 1e-5);
    expect_rel(("adamw_step v" + d).c_str(), rel(dv, rv), 1e-5);
  }
  Tensor dp = gpu(p0), dm = Tensor::zeros({n}, DType::F32, Device::CUDA), dv = Tensor::zeros({n}, DType::F32, Device::CUDA);
  EXPECT_THROW(cuda::adamw_step(dp, gpu(grads[0]), dm, dv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0), Error);
  Tensor half_p = gpu(p0, DType::F16);
  EXPECT_THROW(cuda::adamw_step(half_p, gpu(grads[0]), dm, dv, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), Error);
}

TEST_F(CudaBackward, MatchesCpuBackendThroughOps) {
  // runtime/ops_backward.cpp dispatch: the same call with GPU inputs and with CPU inputs (the CPU kernels)
  auto both = [](const char* what, const Tensor& g, const Tensor& c, double tol = kF32) {
    EXPECT_EQ(g.device(), Device::CUDA) << what;
    EXPECT_EQ(shape_str(g.shape()), shape_str(c.shape())) << what;
    expect_rel((std::string("ops vs CPU: ") + what).c_str(), rel(g, c), tol);
  };
  const Tensor x = rnd({2, 16, 12, 10}, 100), gy4 = rnd({2, 16, 24, 20}, 101);
  both("sum_leading", ops::sum_leading(gpu(x), 120), ops::sum_leading(x, 120), 1e-5);
  both("sum_trailing", ops::sum_trailing(gpu(x), 120), ops::sum_trailing(x, 120), 1e-5);
  both("upsample_nearest2x_backward", ops::upsample_nearest2x_backward(gpu(gy4)), ops::upsample_nearest2x_backward(gy4),
       1e-6);
  both("crop", ops::crop(gpu(x), 11, 9), ops::crop(x, 11, 9), 0.0);
  {
    const Tensor w = rnd({24, 8, 3, 3}, 102, 0.1f), gy = rnd({2, 24, 6, 5}, 103);  // stride 2, pad 1, groups 2
    both("conv2d_backward_input", ops::conv2d_backward_input(gpu(gy), gpu(w), x.shape(), 2, 1, 2),
         ops::conv2d_backward_input(gy, w, x.shape(), 2, 1, 2));
    both("conv2d_backward_weight", ops::conv2d_backward_weight(gpu(gy), gpu(x), w.shape(), 2, 1, 2),
         ops::conv2d_backward_weight(gy, x, w.shape(), 2, 1, 2));
  }
  {
    const Tensor g = rnd({16}, 104, 0.3f, 1.0f), b = rnd({16}, 105), gy = rnd(x.shape(), 106);
    const auto gg = ops::group_norm_backward(gpu(gy), gpu(x), 4, gpu(g), gpu(b), 1e-6f, true);
    const auto cg = ops::group_norm_backward(gy, x, 4, g, b, 1e-6f, true);
    for (int i = 0; i < 3; ++i) both("group_norm_backward (silu)", gg[i], cg[i]);
    const Tensor t = rnd({3, 50, 64}, 107), tg = rnd({3, 50, 64}, 108), lg = rnd({64}, 109, 0.3f, 1.0f);
    const auto gl = ops::layer_norm_backward(gpu(tg), gpu(t), gpu(lg), 1e-5f);
    const auto cl = ops::layer_norm_backward(tg, t, lg, 1e-5f);
    for (int i = 0; i < 3; ++i) both("layer_norm_backward", gl[i], cl[i]);
  }
  {
    const Tensor a = rnd({4, 33, 70}, 110, 2.0f), ga = rnd({4, 33, 70}, 111), gh = rnd({4, 33, 35}, 112);
    both("silu_backward", ops::silu_backward(gpu(a), gpu(ga)), ops::silu_backward(a, ga));
    both("gelu_backward", ops::gelu_backward(gpu(a), gpu(ga)), ops::gelu_backward(a, ga));
    both("quick_gelu_backward", ops::quick_gelu_backward(gpu(a), gpu(ga)), ops::quick_gelu_backward(a, ga));
    both("geglu_backward", ops::geglu_backward(gpu(a), gpu(gh)), ops::geglu_backward(a, gh));
    const Tensor y = ops::softmax(a);
    both("softmax_backward", ops::softmax_backward(gpu(y), gpu(ga)), ops::softmax_backward(y, ga));
  }
  for (bool causal : {false, true}) {
    const Tensor q = rnd({2, 77, 64}, 113), k = rnd({2, 77, 64}, 114), v = rnd({2, 77, 64}, 115), go = rnd({2, 77, 64}, 116);
    const auto ga = ops::attention_backward(gpu(q), gpu(k), gpu(v), gpu(go), 4, causal);
    const auto ca = ops::attention_backward(q, k, v, go, 4, causal);
    for (int i = 0; i < 3; ++i) both(causal ? "attention_backward causal" : "attention_backward", ga[i], ca[i]);
  }
  {
    const Tensor gy = rnd({2, 7, 32}, 117);
    Tensor ids = Tensor::empty({2, 7}, DType::I64);
    for (int64_t i = 0; i < 14; ++i) ids.data<int64_t>()[i] = (i * 5) % 9;
    both("embedding_backward", ops::embedding_backward(gpu(gy), ids, 9), ops::embedding_backward(gy, ids, 9), 1e-6);
  }
  {
    const Tensor p0 = rnd({300}, 118), g0 = rnd({300}, 119);
    Tensor p = p0.clone(), m = Tensor::zeros({300}), v = Tensor::zeros({300});
    Tensor dp = gpu(p0), dm = gpu(m), dv = gpu(v);
    for (int64_t step = 1; step <= 2; ++step) {
      ops::adamw_step(p, g0, m, v, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
      ops::adamw_step(dp, gpu(g0), dm, dv, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
    }
    both("adamw_step param", dp, p, 1e-6);
    both("adamw_step v", dv, v, 1e-6);
  }
}

}  // namespace
