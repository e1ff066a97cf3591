// runtime/profile.h: with LORASTACK_PROFILE set, ops, casts, recorded backward functions and phases are counted
// in separate tables; nested ops count toward the outermost op only. This binary turns profiling on before
// main (the flag is read once per process).
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <string>

#include "runtime/autograd.h"
#include "runtime/ops.h"
#include "runtime/profile.h"

namespace {

const int kProfileOn = [] { return ::setenv("LORASTACK_PROFILE", "1", 1); }();

using namespace ls;

/// The "calls" column of the table row `name` in `out` (-1 when there is none).
long long calls(const std::string& out, const std::string& name) {
  std::smatch m;
  const std::regex row("\n" + std::regex_replace(name, std::regex(R"([()+.])"), R"(\$&)") + R"( +(\d+) +[0-9.]+ )");
  return std::regex_search(out, m, row) ? std::stoll(m[1]) : -1;
}

TEST(Profile, CountsOpsBackwardsCastsAndPhases) {
  ASSERT_EQ(kProfileOn, 0);
  ASSERT_TRUE(profile::enabled());
  profile::report();  // start from an empty table
  ::testing::internal::CaptureStderr();
  {
    LS_PROFILE_PHASE("outer phase");
    autograd::Tape tape;
    Tensor w = Tensor::full({4, 3}, 0.5f);
    w.set_requires_grad(true);
    Tensor x = Tensor::full({2, 3}, 1.0f);
    Tensor y;
    for (int i = 0; i < 3; ++i) {
      LS_PROFILE_PHASE("inner phase");
      y = ops::linear(x, w, Tensor{});
    }
    Tensor loss = ops::sum_trailing(ops::mul(y, y), y.numel());
    autograd::backward(loss);
    (void)x.to(DType::F16);
  }
  profile::report();
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("lorastack profile, phases"), std::string::npos) << out;
  EXPECT_EQ(calls(out, "outer phase"), 1) << out;
  EXPECT_EQ(calls(out, "inner phase"), 3) << out;
  EXPECT_EQ(calls(out, "linear"), 3) << out;
  EXPECT_EQ(calls(out, "mul"), 1) << out;
  EXPECT_EQ(calls(out, "linear backward"), 1) << out;  // only the last y reaches the loss; its matmuls are nested
  EXPECT_EQ(calls(out, "sum_trailing backward"), 1) << out;
  EXPECT_EQ(calls(out, "matmul"), -1) << out;
  EXPECT_EQ(calls(out, "cast"), 1) << out;
  // report() clears: a second report prints nothing
  ::testing::internal::CaptureStderr();
  profile::report();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
