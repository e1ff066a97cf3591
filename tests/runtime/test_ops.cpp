// Every op of runtime/ops.h against a naive double-precision reference written here, plus error cases
// and the refsuite time projection (diffusers get_timestep_embedding).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "io/safetensors.h"
#include "runtime/ops.h"

using namespace ls;

namespace {

Tensor randn(const Shape& s, uint32_t seed, float mean = 0.0f, float sd = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(mean, sd);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = d(g);
  return t;
}

double at(const Tensor& t, int64_t i) { return t.f32()[i]; }

/// |got − ref| ≤ atol + rtol·|ref| elementwise with atol = rtol · max|ref| (fp32 sums of many terms).
void expect_close(const Tensor& got, const std::vector<double>& ref, double rtol = 1e-5, const char* what = "") {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(ref.size())) << what;
  double mx = 0.0;
  for (double r : ref) mx = std::max(mx, std::abs(r));
  const double atol = rtol * std::max(mx, 1e-6);
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = got.f32()[i];
    if (!(std::abs(g - ref[i]) <= atol + rtol * std::abs(ref[i]))) {
      if (++bad <= 5) ADD_FAILURE() << what << " index " << i << ": got " << g << " want " << ref[i];
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad, int groups) {
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = (h + 2 * pad - kh) / stride + 1, ow = (wd + 2 * pad - kw) / stride + 1;
  const int64_t cg = c / groups, og = o / groups;
  std::vector<double> y(n * o * oh * ow);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = b.defined() ? at(b, oc) : 0.0;
          const int64_t g = oc / og;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += at(x, ((i * c + g * cg + ci) * h + iy) * wd + ix) * at(w, ((oc * cg + ci) * kh + ky) * kw + kx);
              }
          y[((i * o + oc) * oh + oy) * ow + ox] = acc;
        }
  return y;
}

std::vector<double> naive_attention(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal) {
  const int64_t b = q.dim(0), lq = q.dim(1), lk = k.dim(1), hd = q.dim(2), d = hd / heads;
  std::vector<double> o(q.numel());
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < lq; ++i) {
        std::vector<double> s(lk, -INFINITY);
        double mx = -INFINITY;
        for (int64_t j = 0; j < lk; ++j) {
          if (causal && j > i) continue;
          double acc = 0;
          for (int64_t e = 0; e < d; ++e) acc += at(q, (bi * lq + i) * hd + h * d + e) * at(k, (bi * lk + j) * hd + h * d + e);
          s[j] = acc / std::sqrt(static_cast<double>(d));
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (double& p : s) sum += (p = std::exp(p - mx));
        for (int64_t e = 0; e < d; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < lk; ++j) acc += s[j] / sum * at(v, (bi * lk + j) * hd + h * d + e);
          o[(bi * lq + i) * hd + h * d + e] = acc;
        }
      }
  return o;
}

double gelu_ref(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }  // no cancellation for x ≪ 0
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

TEST(Ops, Linear) {
  Tensor x = randn({2, 5, 37}, 1), w = randn({19, 37}, 2), b = randn({19}, 3);
  for (bool with_bias : {true, false}) {
    Tensor y = ops::linear(x, w, with_bias ? b : Tensor{});
    ASSERT_EQ(y.shape(), (Shape{2, 5, 19}));
    std::vector<double> ref(10 * 19);
    for (int i = 0; i < 10; ++i)
      for (int o = 0; o < 19; ++o) {
        double acc = with_bias ? at(b, o) : 0.0;
        for (int k = 0; k < 37; ++k) acc += at(x, i * 37 + k) * at(w, o * 37 + k);
        ref[i * 19 + o] = acc;
      }
    expect_close(y, ref, 1e-5, "linear");
  }
  EXPECT_THROW(ops::linear(x, randn({19, 36}, 4)), Error);
  EXPECT_THROW(ops::linear(x, w, randn({18}, 5)), Error);
}

TEST(Ops, Matmul) {
  const int64_t B = 3, M = 7, K = 11, N = 5;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      Tensor a = randn(ta ? Shape{B, K, M} : Shape{B, M, K}, 10 + ta);
      Tensor b = randn(tb ? Shape{B, N, K} : Shape{B, K, N}, 20 + tb);
      Tensor y = ops::matmul(a, b, ta, tb, 0.5f);
      ASSERT_EQ(y.shape(), (Shape{B, M, N}));
      std::vector<double> ref(B * M * N);
      for (int64_t bi = 0; bi < B; ++bi)
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) {
              double av = ta ? at(a, bi * K * M + k * M + i) : at(a, bi * M * K + i * K + k);
              double bv = tb ? at(b, bi * N * K + j * K + k) : at(b, bi * K * N + k * N + j);
              acc += av * bv;
            }
            ref[(bi * M + i) * N + j] = 0.5 * acc;
          }
      expect_close(y, ref, 1e-5, "matmul");
    }
  Tensor a2 = randn({4, 6}, 30), b2 = randn({6, 3}, 31);
  EXPECT_EQ(ops::matmul(a2, b2).shape(), (Shape{4, 3}));
  EXPECT_THROW(ops::matmul(a2, randn({5, 3}, 32)), Error);
  EXPECT_THROW(ops::matmul(randn({2, 4, 6}, 33), randn({3, 6, 3}, 34)), Error);
}

struct ConvCase {
  Shape x, w;
  int stride, pad, groups;
  bool bias;
};

TEST(Ops, Conv2d) {
  const ConvCase cases[] = {
      {{2, 4, 9, 7}, {6, 4, 3, 3}, 1, 1, 1, true},    // SD-style 3×3 same conv
      {{2, 4, 9, 8}, {6, 4, 3, 3}, 2, 1, 1, true},    // stride-2 downsampler
      {{1, 4, 8, 8}, {6, 2, 3, 3}, 1, 1, 2, true},    // groups 2
      {{2, 5, 6, 7}, {3, 5, 1, 1}, 1, 0, 1, true},    // 1×1 (direct GEMM)
      {{1, 4, 7, 7}, {4, 2, 1, 1}, 1, 0, 2, false},   // 1×1 grouped, no bias
      {{1, 3, 9, 9}, {2, 3, 1, 1}, 2, 0, 1, true},    // 1×1 stride 2 (im2col path)
      {{1, 3, 10, 6}, {4, 3, 3, 2}, 2, 0, 1, false},  // non-square kernel, no padding
      {{1, 2, 5, 5}, {3, 2, 3, 3}, 3, 2, 1, true},    // padding larger than stride coverage
      {{1, 64, 130, 128}, {4, 64, 3, 3}, 1, 1, 1, true},  // several column tiles
  };
  uint32_t seed = 100;
  for (const auto& c : cases) {
    Tensor x = randn(c.x, seed++), w = randn(c.w, seed++), b = c.bias ? randn({c.w[0]}, seed++) : Tensor{};
    Tensor y = ops::conv2d(x, w, b, c.stride, c.pad, c.groups);
    expect_close(y, naive_conv(x, w, b, c.stride, c.pad, c.groups), 1e-5, shape_str(c.x).c_str());
  }
  Tensor x = randn({1, 4, 8, 8}, 1);
  EXPECT_THROW(ops::conv2d(x, randn({6, 3, 3, 3}, 2), {}, 1, 1), Error);          // channel mismatch
  EXPECT_THROW(ops::conv2d(x, randn({6, 4, 3, 3}, 2), {}, 1, 1, 3), Error);       // groups don't divide
  EXPECT_THROW(ops::conv2d(x, randn({6, 4, 3, 3}, 2), randn({5}, 3), 1, 1), Error);  // bias size
  EXPECT_THROW(ops::conv2d(x, randn({6, 4, 9, 9}, 2), {}, 1, 0), Error);          // kernel too large
  EXPECT_THROW(ops::conv2d(x, randn({6, 4, 3, 3}, 2), {}, 0, 1), Error);          // stride 0
}

TEST(Ops, UpsampleAndPad) {
  Tensor x = randn({2, 3, 4, 5}, 7);
  Tensor u = ops::upsample_nearest2x(x);
  ASSERT_EQ(u.shape(), (Shape{2, 3, 8, 10}));
  std::vector<double> ref(u.numel());
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t r = 0; r < 8; ++r)
      for (int64_t c = 0; c < 10; ++c) ref[(p * 8 + r) * 10 + c] = at(x, (p * 4 + r / 2) * 5 + c / 2);
  expect_close(u, ref, 0, "upsample");
  Tensor pd = ops::pad_right_bottom(x, 1, 2);
  ASSERT_EQ(pd.shape(), (Shape{2, 3, 6, 6}));
  std::vector<double> pref(pd.numel());
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t c = 0; c < 6; ++c) pref[(p * 6 + r) * 6 + c] = (r < 4 && c < 5) ? at(x, (p * 4 + r) * 5 + c) : 0.0;
  expect_close(pd, pref, 0, "pad");
  EXPECT_THROW(ops::upsample_nearest2x(randn({3, 4, 5}, 1)), Error);
  EXPECT_THROW(ops::pad_right_bottom(x, -1, 0), Error);
}

TEST(Ops, GroupNorm) {
  const int64_t N = 2, C = 12, HW = 35;
  const int G = 4;
  Tensor x = randn({N, C, 5, 7}, 40, 3.0f, 2.0f), gamma = randn({C}, 41), beta = randn({C}, 42);
  for (bool silu : {false, true}) {
    Tensor y = ops::group_norm(x, G, gamma, beta, 1e-5f, silu);
    std::vector<double> ref(x.numel());
    for (int64_t n = 0; n < N; ++n)
      for (int g = 0; g < G; ++g) {
        const int64_t base = (n * C + g * (C / G)) * HW, len = (C / G) * HW;
        double m = 0, v = 0;
        for (int64_t i = 0; i < len; ++i) m += at(x, base + i);
        m /= len;
        for (int64_t i = 0; i < len; ++i) v += (at(x, base + i) - m) * (at(x, base + i) - m);
        v /= len;
        for (int64_t i = 0; i < len; ++i) {
          const int64_t ch = g * (C / G) + i / HW;
          double r = (at(x, base + i) - m) / std::sqrt(v + 1e-5) * at(gamma, ch) + at(beta, ch);
          ref[base + i] = silu ? r * sigmoid(r) : r;
        }
      }
    expect_close(y, ref, 1e-5, silu ? "group_norm+silu" : "group_norm");
  }
  EXPECT_THROW(ops::group_norm(x, 5, gamma, beta, 1e-5f), Error);
  EXPECT_THROW(ops::group_norm(x, G, randn({C - 1}, 1), beta, 1e-5f), Error);
}

TEST(Ops, LayerNorm) {
  Tensor x = randn({3, 4, 33}, 50, -2.0f, 3.0f), gamma = randn({33}, 51), beta = randn({33}, 52);
  Tensor y = ops::layer_norm(x, gamma, beta, 1e-5f);
  std::vector<double> ref(x.numel());
  for (int64_t r = 0; r < 12; ++r) {
    double m = 0, v = 0;
    for (int i = 0; i < 33; ++i) m += at(x, r * 33 + i);
    m /= 33;
    for (int i = 0; i < 33; ++i) v += std::pow(at(x, r * 33 + i) - m, 2);
    v /= 33;
    for (int i = 0; i < 33; ++i) ref[r * 33 + i] = (at(x, r * 33 + i) - m) / std::sqrt(v + 1e-5) * at(gamma, i) + at(beta, i);
  }
  expect_close(y, ref, 1e-5, "layer_norm");
  EXPECT_THROW(ops::layer_norm(x, randn({32}, 1), beta, 1e-5f), Error);
}

TEST(Ops, Activations) {
  Tensor x = randn({4, 1000}, 60, 0.0f, 4.0f);
  x.f32()[0] = -100.0f;
  x.f32()[1] = 100.0f;
  x.f32()[2] = 0.0f;
  std::vector<double> rs(x.numel()), rg(x.numel()), rq(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = at(x, i);
    rs[i] = v * sigmoid(v);
    rg[i] = gelu_ref(v);
    rq[i] = v * sigmoid(1.702 * v);
  }
  // Activations are checked element by element at rtol 1e-5 with a small absolute floor.
  auto check = [&](const Tensor& y, const std::vector<double>& r, const char* what) {
    for (int64_t i = 0; i < y.numel(); ++i)
      ASSERT_NEAR(at(y, i), r[i], 1e-6 + 1e-5 * std::abs(r[i])) << what << " x=" << at(x, i);
  };
  check(ops::silu(x), rs, "silu");
  check(ops::gelu(x), rg, "gelu");
  check(ops::quick_gelu(x), rq, "quick_gelu");
  Tensor g = ops::geglu(x.reshape({4, 2, 500}));
  ASSERT_EQ(g.shape(), (Shape{4, 2, 250}));
  for (int64_t r = 0; r < 8; ++r)
    for (int64_t i = 0; i < 250; ++i) {
      const double want = at(x, r * 500 + i) * gelu_ref(at(x, r * 500 + 250 + i));
      ASSERT_NEAR(at(g, r * 250 + i), want, 1e-6 + 1e-5 * std::abs(want));
    }
  EXPECT_THROW(ops::geglu(randn({2, 3}, 1)), Error);
}

TEST(Ops, ActivationRelativeAccuracy) {
  // Dense sweep: every activation within a few fp32 ulps (relative) of the double reference, tails included.
  const int64_t n = 40001;
  Tensor x = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) x.f32()[i] = static_cast<float>(-20.0 + 40.0 * static_cast<double>(i) / (n - 1));
  Tensor s = ops::silu(x), g = ops::gelu(x), q = ops::quick_gelu(x);
  double es = 0, eg = 0, eq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = at(x, i);
    auto rel = [](double got, double want) { return want == 0 ? std::abs(got) : std::abs(got - want) / std::abs(want); };
    es = std::max(es, rel(at(s, i), v * sigmoid(v)));
    if (v > -6.0) eg = std::max(eg, rel(at(g, i), gelu_ref(v)));  // below −6 |GELU| < 1e-8
    eq = std::max(eq, rel(at(q, i), v * sigmoid(1.702 * v)));
  }
  EXPECT_LT(es, 2e-6) << "silu";
  EXPECT_LT(eg, 5e-6) << "gelu";  // fp32 rounding of z² in the tail
  EXPECT_LT(eq, 5e-6) << "quick_gelu";  // fp32 rounding of 1.702·x, as in torch
  std::printf("max relative error: silu %.2e gelu %.2e quick_gelu %.2e\n", es, eg, eq);
}

TEST(Ops, Arithmetic) {
  Tensor a = randn({2, 3, 4, 5}, 70);
  auto check = [&](const Tensor& b, auto idx) {
    std::vector<double> ra(a.numel()), rsub(a.numel()), rm(a.numel());
    for (int64_t i = 0; i < a.numel(); ++i) {
      const double bv = at(b, idx(i));
      ra[i] = at(a, i) + bv;
      rsub[i] = at(a, i) - bv;
      rm[i] = at(a, i) * bv;
    }
    expect_close(ops::add(a, b), ra, 1e-6, "add");
    expect_close(ops::sub(a, b), rsub, 1e-6, "sub");
    expect_close(ops::mul(a, b), rm, 1e-6, "mul");
    Tensor c = a.clone();
    ops::add_(c, b);
    expect_close(c, ra, 1e-6, "add_");
  };
  check(randn({2, 3, 4, 5}, 71), [](int64_t i) { return i; });        // same shape
  check(randn({4, 5}, 72), [](int64_t i) { return i % 20; });         // suffix
  check(randn({2, 3}, 73), [](int64_t i) { return i / 20; });         // per channel [N, C]
  check(randn({1}, 74), [](int64_t) { return int64_t{0}; });          // scalar
  EXPECT_THROW(ops::add(a, randn({3, 5}, 75)), Error);
  EXPECT_THROW(ops::mul(a, randn({2, 4}, 76)), Error);

  Tensor y = randn({2, 3, 4, 5}, 77);
  std::vector<double> rsc(a.numel()), rax(a.numel());
  for (int64_t i = 0; i < a.numel(); ++i) {
    rsc[i] = at(a, i) * -1.5;
    rax[i] = 0.25 * at(a, i) - 2.0 * at(y, i);
  }
  expect_close(ops::scale(a, -1.5f), rsc, 1e-6, "scale");
  expect_close(ops::axpby(0.25f, a, -2.0f, y), rax, 1e-6, "axpby");
  EXPECT_THROW(ops::axpby(1.0f, a, 1.0f, randn({2, 3, 4, 6}, 78)), Error);
  EXPECT_THROW(ops::add(a, a.to(DType::F16)), Error);
}

TEST(Ops, Softmax) {
  Tensor x = randn({6, 77}, 80, 0.0f, 10.0f);
  x.f32()[3] = 1000.0f;  // large logits must not overflow
  std::vector<double> ref(x.numel());
  for (int r = 0; r < 6; ++r) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < 77; ++i) mx = std::max(mx, at(x, r * 77 + i));
    for (int i = 0; i < 77; ++i) s += std::exp(at(x, r * 77 + i) - mx);
    for (int i = 0; i < 77; ++i) ref[r * 77 + i] = std::exp(at(x, r * 77 + i) - mx) / s;
  }
  Tensor y = ops::softmax(x);
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_NEAR(at(y, i), ref[i], 1e-7 + 1e-5 * ref[i]);
}

TEST(Ops, CatChunkPermute) {
  Tensor a = randn({2, 3, 4}, 90), b = randn({2, 5, 4}, 91);
  Tensor c = ops::cat({a, b}, 1);
  ASSERT_EQ(c.shape(), (Shape{2, 8, 4}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t j = 0; j < 8; ++j)
      for (int64_t k = 0; k < 4; ++k)
        ASSERT_EQ(at(c, (n * 8 + j) * 4 + k), j < 3 ? at(a, (n * 3 + j) * 4 + k) : at(b, (n * 5 + j - 3) * 4 + k));
  Tensor c0 = ops::cat({a, a}, 0);
  ASSERT_EQ(c0.shape(), (Shape{4, 3, 4}));
  EXPECT_EQ(at(c0, 24 + 5), at(a, 5));
  Tensor cl = ops::cat({a, a.clone()}, -1);
  ASSERT_EQ(cl.shape(), (Shape{2, 3, 8}));
  EXPECT_EQ(at(cl, 5), at(a, 1));
  EXPECT_THROW(ops::cat({a, b}, 0), Error);
  EXPECT_THROW(ops::cat({a}, 3), Error);

  auto parts = ops::chunk(c, 2, 1);
  ASSERT_EQ(parts.size(), 2u);
  ASSERT_EQ(parts[1].shape(), (Shape{2, 4, 4}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 4; ++k) ASSERT_EQ(at(parts[1], (n * 4 + j) * 4 + k), at(c, (n * 8 + 4 + j) * 4 + k));
  EXPECT_THROW(ops::chunk(c, 3, 1), Error);

  Tensor x = randn({2, 3, 4, 5}, 92);
  Tensor p = ops::permute(x, {0, 2, 3, 1});
  ASSERT_EQ(p.shape(), (Shape{2, 4, 5, 3}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w)
          ASSERT_EQ(at(p, ((n * 4 + h) * 5 + w) * 3 + ch), at(x, ((n * 3 + ch) * 4 + h) * 5 + w));
  Tensor q = ops::permute(x, {3, 1, 0, 2});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w)
          ASSERT_EQ(at(q, ((w * 3 + ch) * 2 + n) * 4 + h), at(x, ((n * 3 + ch) * 4 + h) * 5 + w));
  EXPECT_THROW(ops::permute(x, {0, 1, 1, 2}), Error);
  EXPECT_THROW(ops::permute(x, {0, 1, 2}), Error);

  Tensor nlc = ops::nchw_to_nlc(x);
  ASSERT_EQ(nlc.shape(), (Shape{2, 20, 3}));
  Tensor pr = ops::permute(x, {0, 2, 3, 1});
  expect_close(nlc, std::vector<double>(pr.f32().begin(), pr.f32().end()), 0, "nchw_to_nlc");
  Tensor back = ops::nlc_to_nchw(nlc, 4, 5);
  expect_close(back, std::vector<double>(x.f32().begin(), x.f32().end()), 0, "nlc_to_nchw");
  EXPECT_THROW(ops::nlc_to_nchw(nlc, 4, 4), Error);
}

TEST(Ops, Attention) {
  struct Case {
    int64_t b, lq, lk, heads, d;
    bool causal;
  } cases[] = {{2, 16, 16, 2, 8, false}, {2, 150, 77, 4, 10, false}, {1, 77, 77, 3, 16, true},
               {2, 130, 130, 1, 8, true}, {1, 5, 9, 2, 4, true}, {1, 1, 1, 1, 3, false}};
  uint32_t seed = 200;
  for (const auto& c : cases) {
    Tensor q = randn({c.b, c.lq, c.heads * c.d}, seed++), k = randn({c.b, c.lk, c.heads * c.d}, seed++),
           v = randn({c.b, c.lk, c.heads * c.d}, seed++);
    Tensor o = ops::attention(q, k, v, static_cast<int>(c.heads), c.causal);
    ASSERT_EQ(o.shape(), q.shape());
    expect_close(o, naive_attention(q, k, v, static_cast<int>(c.heads), c.causal), 1e-5,
                 (std::to_string(c.lq) + "x" + std::to_string(c.lk) + (c.causal ? " causal" : "")).c_str());
  }
  Tensor q = randn({1, 4, 8}, 1);
  EXPECT_THROW(ops::attention(q, randn({1, 4, 6}, 2), randn({1, 4, 6}, 3), 2), Error);
  EXPECT_THROW(ops::attention(q, randn({1, 4, 8}, 2), randn({1, 5, 8}, 3), 2), Error);
  EXPECT_THROW(ops::attention(q, q, q, 3), Error);
}

TEST(Ops, Embedding) {
  Tensor table = randn({10, 6}, 300);
  std::vector<int64_t> ids64{3, 0, 9, 3};
  Tensor ids = Tensor::wrap({2, 2}, DType::I64, ids64.data(), ids64.size() * 8, nullptr);
  Tensor y = ops::embedding(table, ids);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 6}));
  for (int i = 0; i < 4; ++i)
    for (int c = 0; c < 6; ++c) ASSERT_EQ(at(y, i * 6 + c), at(table, ids64[i] * 6 + c));
  std::vector<int32_t> ids32{9, 1};
  Tensor y32 = ops::embedding(table, Tensor::wrap({2}, DType::I32, ids32.data(), 8, nullptr));
  EXPECT_EQ(at(y32, 6), at(table, 6));
  std::vector<int64_t> bad{10};
  EXPECT_THROW(ops::embedding(table, Tensor::wrap({1}, DType::I64, bad.data(), 8, nullptr)), Error);
  bad[0] = -1;
  EXPECT_THROW(ops::embedding(table, Tensor::wrap({1}, DType::I64, bad.data(), 8, nullptr)), Error);
  EXPECT_THROW(ops::embedding(table, table), Error);
}

TEST(Ops, TimestepEmbeddingFormula) {
  Tensor t = Tensor::from_vector({3}, {0.0f, 421.5f, 999.0f});
  for (bool flip : {true, false})
    for (float shift : {0.0f, 1.0f}) {
      Tensor y = ops::timestep_embedding(t, 20, flip, shift);
      std::vector<double> ref(60);
      for (int r = 0; r < 3; ++r)
        for (int i = 0; i < 10; ++i) {
          const double arg = at(t, r) * std::exp(-std::log(10000.0) * i / (10 - shift));
          ref[r * 20 + (flip ? 10 + i : i)] = std::sin(arg);
          ref[r * 20 + (flip ? i : 10 + i)] = std::cos(arg);
        }
      for (int i = 0; i < 60; ++i) ASSERT_NEAR(at(y, i), ref[i], 2e-4) << i;  // float32 argument rounding
    }
  Tensor odd = ops::timestep_embedding(t, 7);
  ASSERT_EQ(odd.shape(), (Shape{3, 7}));
  EXPECT_EQ(at(odd, 6), 0.0f);
  EXPECT_THROW(ops::timestep_embedding(Tensor::zeros({2, 2}), 8), Error);
}

TEST(Ops, TimestepEmbeddingMatchesRefsuite) {
  const std::string path = std::string(LS_SHARED_DIR) + "/refsuite/reference/unet.safetensors";
  io::TensorFile f = io::read_safetensors(path);
  const Tensor& ts = f.get("timesteps");
  ASSERT_EQ(ts.dtype(), DType::I64);
  Tensor want = f.get("act.time_proj").to(DType::F32);
  Tensor got = ops::timestep_embedding(ts, 32, true, 0.0f);
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < got.numel(); ++i) EXPECT_NEAR(at(got, i), at(want, i), 2e-6) << i;
}

TEST(Ops, ThreadCountDoesNotChangeResults) {
  Tensor x = randn({1, 8, 16, 16}, 400), w = randn({8, 8, 3, 3}, 401);
  Tensor q = randn({1, 100, 32}, 402);
  const int saved = ops::num_threads();
  Tensor y1 = ops::conv2d(x, w, {}, 1, 1), a1 = ops::attention(q, q, q, 4);
  ops::set_num_threads(1);
  EXPECT_EQ(ops::num_threads(), 1);
  Tensor y2 = ops::conv2d(x, w, {}, 1, 1), a2 = ops::attention(q, q, q, 4);
  ops::set_num_threads(saved);
  expect_close(y2, std::vector<double>(y1.f32().begin(), y1.f32().end()), 1e-5, "conv threads");
  expect_close(a2, std::vector<double>(a1.f32().begin(), a1.f32().end()), 1e-5, "attention threads");
}

TEST(Ops, RejectsWrongDtype) {
  Tensor h = randn({2, 4}, 1).to(DType::F16);
  EXPECT_THROW(ops::silu(h), Error);
  EXPECT_THROW(ops::linear(h, randn({3, 4}, 2)), Error);
  EXPECT_THROW(ops::softmax(Tensor{}), Error);
}
