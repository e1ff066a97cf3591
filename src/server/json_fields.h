// Validated reads of a JSON request body: each getter names the field and the value in its ApiError, so a client
// learns exactly what to fix ("steps 0: must be in 1..150"). Types wrong → 400; values out of range → 422.
// JSON null counts as absent (A1111 clients send null for every unset field).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace ls::server {

/// Parse a request body as a JSON object. Throws ApiError 400 for malformed JSON or another top-level type.
nlohmann::json parse_json_object(const std::string& body);

/// Reads fields of one JSON object; remembers which were read so unknown ones can be refused.
class FieldReader {
 public:
  /// `prefix` is put before field names in messages ("loras[2].").
  FieldReader(const nlohmann::json& object, std::string prefix = "") : j_(object), prefix_(std::move(prefix)) {}

  bool has(const std::string& key) const;
  /// A string of at most `max_bytes` bytes (valid UTF-8 is not required; the tokenizer handles bytes).
  std::optional<std::string> str(const std::string& key, size_t max_bytes);
  /// An integer in lo..hi (a JSON number with no fraction; 20.0 counts as 20).
  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi);
  /// A seed: -1 (random) or 0..2^64−1. Returns -1 as nullopt-free sentinel through `random`.
  std::optional<uint64_t> seed(const std::string& key, bool& random);
  /// A finite number in lo..hi.
  std::optional<double> number(const std::string& key, double lo, double hi);
  std::optional<bool> boolean(const std::string& key);
  /// The raw value (nullptr when absent or null); marks it read.
  const nlohmann::json* raw(const std::string& key);
  /// Throw ApiError 400 naming the first field that was not read (strict APIs only).
  void reject_unknown() const;
  /// The full name of `key` for messages.
  std::string name(const std::string& key) const { return prefix_ + key; }

 private:
  const nlohmann::json& j_;
  std::string prefix_;
  std::set<std::string> read_;
};

}  // namespace ls::server
