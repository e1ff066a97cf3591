// Shared by the test suites: the message of the ls::Error a call throws, checked to be one line.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "runtime/error.h"

namespace ls::testing {

/// The message of the ls::Error `f()` throws, or "" when it throws nothing. Every lorastack error is one line
/// (runtime/error.h); a message with a line break fails the calling test.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ls::Error& e) {
    std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    return m;
  }
  return "";
}

}  // namespace ls::testing
