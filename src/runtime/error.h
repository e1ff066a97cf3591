// The one exception type lorastack throws for bad input and failed operations.
//
// Messages follow one rule: name the thing (file, key, value) and what is wrong with it, in one line,
// e.g. "model.safetensors: tensor 'conv_in.weight': data offsets [0, 900] beyond data area of 512 bytes".
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace ls {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

/// Throw ls::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

/// Throw ls::Error(msg) unless `cond` holds.
#define LS_CHECK(cond, ...)                 \
  do {                                      \
    if (!(cond)) ::ls::fail(__VA_ARGS__);   \
  } while (0)

}  // namespace ls
