// The CUDA backend op by op against the CPU backend (runtime/ops.h): fresh random inputs, each op run on both,
// max|gpu − cpu| / max|cpu| ≤ 1e-5 in fp32 mode (no TF32), ≤ 1e-2 for F16 / BF16 compute. Also device
// transfers, on-device dtype conversion, mixed CPU/CUDA inputs, the caching allocator and error paths.
// Needs a GPU: registered with the ctest label `gpu` only (tests/gpu.cmake).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/cuda/backend.h"
#include "runtime/ops.h"

namespace {

using namespace ls;

Tensor rnd(const Shape& s, uint32_t seed, float scale = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, scale);
  Tensor t = Tensor::empty(s);
  for (float& v : t.f32()) v = d(g);
  return t;
}

Tensor gpu(const Tensor& t, DType dt = DType::F32) { return t.to_device(Device::CUDA).to(dt); }

/// max|got − ref| / max|ref| with got brought back to the host as F32 (NaN → infinity).
double rel_err(const Tensor& got, const Tensor& ref) {
  EXPECT_EQ(got.device(), Device::CUDA);
  const Tensor g = got.to_device(Device::CPU).to(DType::F32);
  EXPECT_EQ(shape_str(g.shape()), shape_str(ref.shape()));
  if (g.shape() != ref.shape()) return INFINITY;
  double md = 0, mr = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double d = std::fabs(static_cast<double>(g.f32()[i]) - ref.f32()[i]);
    md = std::isnan(d) ? INFINITY : std::max(md, d);
    mr = std::max(mr, std::fabs(static_cast<double>(ref.f32()[i])));
  }
  return md / std::max(mr, 1e-30);
}

constexpr double kTol = 1e-5;

#define EXPECT_REL(got, ref, tol) EXPECT_LE(rel_err(got, ref), tol) << #got

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GT(cuda::device_count(), 0) << "no CUDA device"; }
};

TEST_F(CudaOps, TransfersAndConversions) {
  const Tensor a = rnd({3, 5, 7}, 1);
  const Tensor d = a.to_device(Device::CUDA);
  EXPECT_EQ(d.device(), Device::CUDA);
  EXPECT_THROW(d.data<float>(), Error);  // host access of device data is refused
  const Tensor back = d.clone().to_device(Device::CPU);
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(back.f32()[i], a.f32()[i]);
  for (DType dt : {DType::F16, DType::BF16}) {
    const Tensor host = a.to(dt);                          // host RNE conversion
    const Tensor dev = d.to(dt).to_device(Device::CPU);    // device RNE conversion
    ASSERT_EQ(dev.dtype(), dt);
    EXPECT_EQ(0, std::memcmp(host.raw(), dev.raw(), host.nbytes())) << dtype_name(dt);
    const Tensor round = d.to(dt).to(DType::F32).to_device(Device::CPU);
    const Tensor hround = host.to(DType::F32);
    for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(round.f32()[i], hround.f32()[i]);
  }
  const Tensor z = Tensor::zeros({1000}, DType::F32, Device::CUDA).to_device(Device::CPU);
  for (float v : z.f32()) ASSERT_EQ(v, 0.0f);
  // narrow0 views of device tensors keep their offset through a copy
  const Tensor row = d.narrow0(1, 1).to_device(Device::CPU);
  for (int64_t i = 0; i < 35; ++i) ASSERT_EQ(row.f32()[i], a.f32()[35 + i]);
}

TEST_F(CudaOps, CachingAllocatorReusesBlocks) {
  void* p = nullptr;
  {
    Tensor t = Tensor::empty({1 << 20}, DType::F32, Device::CUDA);
    p = t.raw();
  }
  const size_t in_use = cuda::bytes_in_use();
  Tensor u = Tensor::empty({1 << 20}, DType::F32, Device::CUDA);
  EXPECT_EQ(u.raw(), p);
  EXPECT_GT(cuda::bytes_in_use(), in_use);
  EXPECT_GE(cuda::peak_bytes(), cuda::bytes_in_use());
}

TEST_F(CudaOps, LinearAndMatmul) {
  const Tensor x = rnd({2, 77, 320}, 2), w = rnd({640, 320}, 3, 0.05f), b = rnd({640}, 4);
  EXPECT_REL(ops::linear(gpu(x), gpu(w), gpu(b)), ops::linear(x, w, b), kTol);
  EXPECT_REL(ops::linear(gpu(x), gpu(w)), ops::linear(x, w), kTol);
  EXPECT_REL(ops::linear(x, gpu(w), b), ops::linear(x, w, b), kTol);  // CPU inputs are uploaded
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Tensor a = ta ? rnd({3, 64, 33}, 5) : rnd({3, 33, 64}, 5);
      const Tensor c = tb ? rnd({3, 48, 64}, 6) : rnd({3, 64, 48}, 6);
      EXPECT_REL(ops::matmul(gpu(a), gpu(c), ta, tb, 0.5f), ops::matmul(a, c, ta, tb, 0.5f), kTol) << ta << tb;
    }
  const Tensor a2 = rnd({17, 9}, 7), b2 = rnd({9, 5}, 8);
  EXPECT_REL(ops::matmul(gpu(a2), gpu(b2)), ops::matmul(a2, b2), kTol);
}

TEST_F(CudaOps, Conv2d) {
  struct C { int64_t n, c, h, w, o, k; int stride, pad, groups; bool bias; };
  for (const C& c : {C{2, 8, 16, 16, 12, 3, 1, 1, 1, true}, C{1, 8, 17, 15, 8, 3, 2, 0, 1, true},
                     C{2, 16, 9, 9, 24, 1, 1, 0, 1, true}, C{2, 8, 10, 10, 8, 3, 1, 1, 2, false},
                     C{3, 4, 8, 8, 6, 1, 2, 0, 1, false}, C{1, 4, 6, 6, 4, 5, 1, 2, 1, true}}) {
    const Tensor x = rnd({c.n, c.c, c.h, c.w}, 10), w = rnd({c.o, c.c / c.groups, c.k, c.k}, 11, 0.2f);
    const Tensor b = c.bias ? rnd({c.o}, 12) : Tensor{};
    EXPECT_REL(ops::conv2d(gpu(x), gpu(w), c.bias ? gpu(b) : Tensor{}, c.stride, c.pad, c.groups),
               ops::conv2d(x, w, b, c.stride, c.pad, c.groups), kTol)
        << c.n << " " << c.c << " " << c.k << " stride " << c.stride << " groups " << c.groups;
  }
}

TEST_F(CudaOps, ResamplingAndNorms) {
  const Tensor x = rnd({2, 64, 9, 11}, 20, 3.0f);
  EXPECT_REL(ops::upsample_nearest2x(gpu(x)), ops::upsample_nearest2x(x), 0.0);
  EXPECT_REL(ops::pad_right_bottom(gpu(x), 1, 2), ops::pad_right_bottom(x, 1, 2), 0.0);
  const Tensor g = rnd({64}, 21), b = rnd({64}, 22);
  for (bool silu : {false, true})
    EXPECT_REL(ops::group_norm(gpu(x), 32, gpu(g), gpu(b), 1e-6f, silu), ops::group_norm(x, 32, g, b, 1e-6f, silu), kTol);
  const Tensor t = rnd({2, 77, 320}, 23, 2.0f), lg = rnd({320}, 24), lb = rnd({320}, 25);
  EXPECT_REL(ops::layer_norm(gpu(t), gpu(lg), gpu(lb), 1e-5f), ops::layer_norm(t, lg, lb, 1e-5f), kTol);
}

TEST_F(CudaOps, ElementwiseAndSoftmax) {
  const Tensor x = rnd({4, 33, 70}, 30, 3.0f);
  EXPECT_REL(ops::silu(gpu(x)), ops::silu(x), kTol);
  EXPECT_REL(ops::gelu(gpu(x)), ops::gelu(x), kTol);
  EXPECT_REL(ops::quick_gelu(gpu(x)), ops::quick_gelu(x), kTol);
  EXPECT_REL(ops::geglu(gpu(x)), ops::geglu(x), kTol);
  EXPECT_REL(ops::softmax(gpu(x)), ops::softmax(x), kTol);
  EXPECT_REL(ops::scale(gpu(x), -0.3f), ops::scale(x, -0.3f), kTol);
  const Tensor y = rnd({4, 33, 70}, 31);
  EXPECT_REL(ops::axpby(0.7f, gpu(x), -1.3f, gpu(y)), ops::axpby(0.7f, x, -1.3f, y), kTol);
  const Tensor img = rnd({2, 5, 6, 7}, 32), per_ch = rnd({2, 5}, 33), suffix = rnd({6, 7}, 34), one = rnd({1}, 35);
  for (const Tensor* b : {&img, &per_ch, &suffix, &one}) {
    EXPECT_REL(ops::add(gpu(img), gpu(*b)), ops::add(img, *b), kTol) << shape_str(b->shape());
    EXPECT_REL(ops::sub(gpu(img), gpu(*b)), ops::sub(img, *b), kTol) << shape_str(b->shape());
    EXPECT_REL(ops::mul(gpu(img), gpu(*b)), ops::mul(img, *b), kTol) << shape_str(b->shape());
    Tensor acc = gpu(img);
    ops::add_(acc, gpu(*b));
    EXPECT_REL(acc, ops::add(img, *b), kTol);
  }
}

TEST_F(CudaOps, ShapeOps) {
  const Tensor a = rnd({2, 3, 4, 5}, 40), b = rnd({2, 6, 4, 5}, 41), c = rnd({2, 3, 4, 5}, 42);
  EXPECT_REL(ops::cat({gpu(a), gpu(b)}, 1), ops::cat({a, b}, 1), 0.0);
  EXPECT_REL(ops::cat({gpu(a), c}, 0), ops::cat({a, c}, 0), 0.0);  // a CPU input joins a CUDA one
  EXPECT_REL(ops::cat({gpu(a), gpu(c)}, -1), ops::cat({a, c}, -1), 0.0);
  const auto gc = ops::chunk(gpu(b), 3, 1);
  const auto cc = ops::chunk(b, 3, 1);
  ASSERT_EQ(gc.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_REL(gc[i], cc[i], 0.0);
  EXPECT_REL(ops::permute(gpu(b), {0, 2, 3, 1}), ops::permute(b, {0, 2, 3, 1}), 0.0);
  EXPECT_REL(ops::permute(gpu(b), {3, 1, 0, 2}), ops::permute(b, {3, 1, 0, 2}), 0.0);
  const Tensor big = rnd({2, 40, 33, 35}, 43);
  const Tensor nlc = ops::nchw_to_nlc(big);
  EXPECT_REL(ops::nchw_to_nlc(gpu(big)), nlc, 0.0);
  EXPECT_REL(ops::nlc_to_nchw(gpu(nlc), 33, 35), big, 0.0);
}

TEST_F(CudaOps, Attention) {
  struct C { int64_t b, lq, lk, heads, d; bool causal; };
  for (const C& c : {C{2, 256, 77, 8, 40, false}, C{2, 64, 64, 8, 4, false}, C{1, 77, 77, 4, 8, true},
                     C{1, 1024, 1024, 1, 64, false}, C{2, 33, 19, 5, 16, false}}) {
    const Tensor q = rnd({c.b, c.lq, c.heads * c.d}, 50), k = rnd({c.b, c.lk, c.heads * c.d}, 51),
                 v = rnd({c.b, c.lk, c.heads * c.d}, 52);
    EXPECT_REL(ops::attention(gpu(q), gpu(k), gpu(v), static_cast<int>(c.heads), c.causal),
               ops::attention(q, k, v, static_cast<int>(c.heads), c.causal), kTol)
        << c.lq << "×" << c.lk << " heads " << c.heads << (c.causal ? " causal" : "");
  }
}

TEST_F(CudaOps, Embedding) {
  const Tensor table = rnd({100, 32}, 60);
  Tensor ids = Tensor::empty({2, 7}, DType::I64);
  for (int64_t i = 0; i < 14; ++i) ids.data<int64_t>()[i] = (i * 37) % 100;
  EXPECT_REL(ops::embedding(gpu(table), ids), ops::embedding(table, ids), 0.0);
  const Tensor ids32 = ids.to(DType::I32);
  EXPECT_REL(ops::embedding(gpu(table), ids32), ops::embedding(table, ids), 0.0);
  ids.data<int64_t>()[3] = 100;
  EXPECT_THROW(ops::embedding(gpu(table), ids), Error);
}

TEST_F(CudaOps, HalfPrecisionCompute) {
  const Tensor x = rnd({2, 64, 320}, 70), w = rnd({640, 320}, 71, 0.05f), b = rnd({640}, 72);
  const Tensor img = rnd({2, 32, 16, 16}, 73), cw = rnd({32, 32, 3, 3}, 74, 0.05f), g = rnd({32}, 75);
  const Tensor q = rnd({2, 256, 64}, 76), k = rnd({2, 77, 64}, 77), v = rnd({2, 77, 64}, 78);
  for (DType dt : {DType::F16, DType::BF16}) {
    const double tol = dt == DType::F16 ? 5e-3 : 2e-2;
    Tensor y = ops::linear(x, gpu(w, dt), gpu(b, dt));  // F32 CPU input converted to the weight's dtype
    EXPECT_EQ(y.dtype(), dt);
    EXPECT_REL(y, ops::linear(x, w, b), tol) << dtype_name(dt);
    EXPECT_REL(ops::conv2d(img, gpu(cw, dt), Tensor{}, 1, 1), ops::conv2d(img, cw, Tensor{}, 1, 1), tol);
    EXPECT_REL(ops::group_norm(gpu(img, dt), 8, gpu(g, dt), gpu(g, dt), 1e-5f, true),
               ops::group_norm(img, 8, g, g, 1e-5f, true), tol);
    EXPECT_REL(ops::attention(gpu(q, dt), gpu(k, dt), gpu(v, dt), 8), ops::attention(q, k, v, 8), tol);
    EXPECT_REL(ops::geglu(gpu(x, dt)), ops::geglu(x), tol);
  }
}

TEST_F(CudaOps, FlashAttentionMatchesGemmPathAndCpu) {
  // head sizes of SD1.x (40, 80, 160), SD2 (64), the tiny model (4, 8); lengths off the 64-row tiles; causal
  struct C { int64_t b, lq, lk, heads, d; bool causal; };
  for (const C& c : {C{2, 300, 77, 8, 40, false}, C{1, 1100, 1100, 8, 40, false}, C{2, 129, 77, 8, 80, false},
                     C{1, 256, 256, 8, 160, false}, C{1, 77, 77, 12, 64, true}, C{2, 64, 64, 8, 4, false},
                     C{1, 77, 77, 4, 8, true}, C{1, 4096, 4096, 1, 160, false}}) {
    const Tensor q = rnd({c.b, c.lq, c.heads * c.d}, 90), k = rnd({c.b, c.lk, c.heads * c.d}, 91),
                 v = rnd({c.b, c.lk, c.heads * c.d}, 92);
    const Tensor ref = ops::attention(q, k, v, static_cast<int>(c.heads), c.causal);
    for (DType dt : {DType::F16, DType::BF16}) {
      const double tol = dt == DType::F16 ? 5e-3 : 3e-2;
      cuda::set_flash_attention(true);
      const Tensor f = ops::attention(gpu(q, dt), gpu(k, dt), gpu(v, dt), static_cast<int>(c.heads), c.causal);
      cuda::set_flash_attention(false);
      const Tensor g = ops::attention(gpu(q, dt), gpu(k, dt), gpu(v, dt), static_cast<int>(c.heads), c.causal);
      cuda::set_flash_attention(true);
      const double ef = rel_err(f, ref), eg = rel_err(g, ref);
      EXPECT_LE(ef, tol) << dtype_name(dt) << " flash " << c.lq << "×" << c.lk << " d " << c.d;
      EXPECT_LE(eg, tol) << dtype_name(dt) << " gemm " << c.lq << "×" << c.lk << " d " << c.d;
      std::printf("  attention %s %4lld×%-4lld h%-2lld d%-3lld%s flash %.2e gemm %.2e\n", dtype_name(dt),
                  static_cast<long long>(c.lq), static_cast<long long>(c.lk), static_cast<long long>(c.heads),
                  static_cast<long long>(c.d), c.causal ? " causal" : "       ", ef, eg);
    }
  }
}

TEST_F(CudaOps, ErrorsAreOneLine) {
  const Tensor a = gpu(rnd({2, 3}, 80)), b = gpu(rnd({4, 5}, 81));
  EXPECT_THROW(ops::matmul(a, b), Error);
  EXPECT_THROW(ops::add(a, b), Error);
  EXPECT_THROW(ops::linear(a, b), Error);
  EXPECT_THROW(cuda::set_device(cuda::device_count()), Error);
  try {
    ops::conv2d(gpu(rnd({1, 3, 4, 4}, 82)), gpu(rnd({2, 4, 3, 3}, 83)), Tensor{}, 1, 1);
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
}

}  // namespace
