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
  /// Messages quote untrusted text (tensor names, prompt tags, yaml keys): the message is kept one line
  /// and bounded here, once: a line feed / carriage return becomes the two characters backslash-n /
  /// backslash-r, other control bytes '?', and a message longer than kMaxMessage bytes is cut with "...".
  explicit Error(const std::string& msg) : std::runtime_error(one_line(msg)) {}

  static constexpr size_t kMaxMessage = 4096;

 private:
  static std::string one_line(const std::string& msg) {
    std::string r;
    r.reserve(msg.size() < kMaxMessage ? msg.size() : kMaxMessage);
    for (char c : msg) {
      if (r.size() >= kMaxMessage) {
        r += "...";
        break;
      }
      const auto u = static_cast<unsigned char>(c);
      if (c == '\n') r += "\\n";
      else if (c == '\r') r += "\\r";
      else if ((u < 0x20 && c != '\t') || u == 0x7f) r += '?';
      else r += c;
    }
    return r;
  }
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
