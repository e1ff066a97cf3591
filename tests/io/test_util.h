// Helpers shared by the io tests: fixture paths, temp dirs, tensor comparison.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/tensor.h"

namespace ls::test {

inline std::string refsuite(const std::string& rel) { return std::string(LS_SHARED_DIR) + "/refsuite/" + rel; }

/// A fresh empty folder test_tmp/<Suite.Test>/<name> under the build tree (emptied when asked for, kept after
/// the test for inspection). Per-test, so ctest -j can run tests of one binary in parallel.
inline std::string temp_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "global";
  auto p = std::filesystem::path(LS_BINARY_DIR) / "test_tmp" / test / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

/// Path of a scratch file test_tmp/<Suite.Test>/files/<name> (the folder is created, not emptied).
inline std::string temp_file(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "global";
  auto p = std::filesystem::path(LS_BINARY_DIR) / "test_tmp" / test / "files";
  std::filesystem::create_directories(p);
  return (p / name).string();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Exact equality after conversion to F32 (shape and every element).
inline ::testing::AssertionResult same_tensor(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return ::testing::AssertionFailure() << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  Tensor fa = a.to(DType::F32), fb = b.to(DType::F32);
  auto x = fa.f32(), y = fb.f32();
  for (size_t i = 0; i < x.size(); ++i)
    if (!(x[i] == y[i])) return ::testing::AssertionFailure() << "element " << i << ": " << x[i] << " vs " << y[i];
  return ::testing::AssertionSuccess();
}

/// Run `f`, expecting an ls::Error whose one-line message contains every string in `parts`.
template <typename F>
::testing::AssertionResult throws_with(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    std::string m = e.what();
    if (m.find('\n') != std::string::npos) return ::testing::AssertionFailure() << "multi-line message: " << m;
    for (const auto& p : parts)
      if (m.find(p) == std::string::npos) return ::testing::AssertionFailure() << "message lacks '" << p << "': " << m;
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "non-ls::Error exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "no exception";
}

}  // namespace ls::test
