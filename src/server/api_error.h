// Errors the HTTP API answers with: an HTTP status, a one-line message naming the field and the value, and the
// field's name. Every route turns an ApiError into the same JSON body (routes.h error_body):
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "steps", "code": 422},
//    "detail": "..."}
// "error.message" is what the OpenAI SDKs read, "detail" what A1111 clients (FastAPI) read.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace ls::server {

class ApiError : public std::runtime_error {
 public:
  /// `status`: 400 malformed (not JSON, wrong type, unknown field), 403 a LoRA path leaving the LoRA folder,
  /// 404 no such job / image, 409 conflict, 422 a value out of range or unknown (sampler, LoRA name),
  /// 429 queue full, 501 not implemented, 503 shutting down. `field`: the request field ("" when none).
  ApiError(int status, std::string field, const std::string& message)
      : std::runtime_error(message), status_(status), field_(std::move(field)) {}
  int status() const { return status_; }
  const std::string& field() const { return field_; }

 private:
  int status_;
  std::string field_;
};

/// Throw ApiError(status, field, fmt::format(f, args...)).
template <typename... Args>
[[noreturn]] void api_fail(int status, const std::string& field, fmt::format_string<Args...> f, Args&&... args) {
  throw ApiError(status, field, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace ls::server
