#include "server/json_fields.h"

#include <cmath>

#include "server/api_error.h"

namespace ls::server {

namespace {
/// A value quoted for a message, at most 80 characters.
std::string shown(const nlohmann::json& v) {
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}
const char* type_of(const nlohmann::json& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}
}  // namespace

nlohmann::json parse_json_object(const std::string& body) {
  if (body.empty()) api_fail(400, "", "empty request body: expected a JSON object");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    api_fail(400, "", "request body is not valid JSON: byte {}: {}", e.byte,
             std::string(e.what()).substr(0, 200));
  }
  if (!j.is_object()) api_fail(400, "", "request body must be a JSON object, got {}", type_of(j));
  return j;
}

bool FieldReader::has(const std::string& key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

const nlohmann::json* FieldReader::raw(const std::string& key) {
  read_.insert(key);
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<std::string> FieldReader::str(const std::string& key, size_t max_bytes) {
  const auto* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) api_fail(400, name(key), "{}: expected a string, got {} {}", name(key), type_of(*v), shown(*v));
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes)
    api_fail(422, name(key), "{}: {} bytes, longer than the limit of {}", name(key), s.size(), max_bytes);
  return s;
}

std::optional<int64_t> FieldReader::integer(const std::string& key, int64_t lo, int64_t hi) {
  const auto* v = raw(key);
  if (!v) return std::nullopt;
  int64_t out = 0;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      api_fail(422, name(key), "{} {}: must be in {}..{}", name(key), shown(*v), lo, hi);
    out = v->get<int64_t>();
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15)
      api_fail(400, name(key), "{}: expected an integer, got {}", name(key), shown(*v));
    out = static_cast<int64_t>(d);
  } else {
    api_fail(400, name(key), "{}: expected an integer, got {} {}", name(key), type_of(*v), shown(*v));
  }
  if (out < lo || out > hi) api_fail(422, name(key), "{} {}: must be in {}..{}", name(key), out, lo, hi);
  return out;
}

std::optional<uint64_t> FieldReader::seed(const std::string& key, bool& random) {
  random = false;
  const auto* v = raw(key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) return v->get<uint64_t>();
  if (v->is_number_integer()) {
    if (v->get<int64_t>() == -1) {
      random = true;
      return std::nullopt;
    }
    api_fail(422, name(key), "{} {}: must be -1 (random) or 0..18446744073709551615", name(key), v->get<int64_t>());
  }
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (d == -1.0) {
      random = true;
      return std::nullopt;
    }
    if (std::isfinite(d) && d == std::floor(d) && d >= 0 && d < 9007199254740992.0) return static_cast<uint64_t>(d);
    api_fail(422, name(key), "{} {}: must be -1 (random) or a non-negative integer", name(key), shown(*v));
  }
  api_fail(400, name(key), "{}: expected an integer seed, got {} {}", name(key), type_of(*v), shown(*v));
}

std::optional<double> FieldReader::number(const std::string& key, double lo, double hi) {
  const auto* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) api_fail(400, name(key), "{}: expected a number, got {} {}", name(key), type_of(*v), shown(*v));
  double d = v->get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) api_fail(422, name(key), "{} {}: must be in {}..{}", name(key), shown(*v), lo, hi);
  return d;
}

std::optional<bool> FieldReader::boolean(const std::string& key) {
  const auto* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) api_fail(400, name(key), "{}: expected true or false, got {}", name(key), shown(*v));
  return v->get<bool>();
}

void FieldReader::reject_unknown() const {
  for (auto& [k, v] : j_.items())
    if (!read_.count(k)) api_fail(400, name(k), "unknown field '{}'", name(k));
}

}  // namespace ls::server
