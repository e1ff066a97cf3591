#include <gtest/gtest.h>

#include <cmath>

#include "runtime/tensor.h"

using namespace ls;

TEST(Tensor, HalfRoundTrip) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f})
    EXPECT_EQ(half_to_float(float_to_half(f)), f) << f;
  EXPECT_TRUE(std::isinf(half_to_float(float_to_half(1e6f))));
  // every half value survives half → float → half
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)) continue;  // NaN payloads
    ASSERT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(h))), h) << h;
  }
}

TEST(Tensor, Fp8Decode) {
  EXPECT_EQ(fp8_e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_float(0x7f)));
  EXPECT_EQ(fp8_e5m2_to_float(0x7b), 57344.0f);
  for (int v = 0; v < 256; ++v) {
    float f = fp8_e4m3_to_float(static_cast<uint8_t>(v));
    if (!std::isnan(f)) EXPECT_EQ(float_to_fp8_e4m3(f), v == 0x80 ? 0x80 : v);
  }
}

TEST(Tensor, ReshapeSharesStorage) {
  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_TRUE(r.shares_storage(t));
  EXPECT_THROW(t.reshape({4, 2}), Error);
  Tensor n = t.narrow0(1, 1);
  EXPECT_EQ(n.f32()[0], 4.0f);
}
