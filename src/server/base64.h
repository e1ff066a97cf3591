// Base64 (RFC 4648 §4, with padding) for PNGs in JSON responses and base64 images in requests.
#pragma once

#include <string>
#include <string_view>

namespace ls::server {

std::string base64_encode(std::string_view bytes);
/// Decode standard base64 (padding optional, whitespace skipped; a "data:...;base64," prefix is removed).
/// Throws ApiError 400 naming `field` on other characters.
std::string base64_decode(std::string_view text, const std::string& field);

}  // namespace ls::server
