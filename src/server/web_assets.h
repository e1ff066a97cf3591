// The web page's files (src/server/web), embedded into the binary at build time by embed_web.cmake.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ls::server {

/// One embedded file, served at `path` ("/index.html", "/app.js").
struct WebAsset {
  const char* path;
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

/// Every embedded file (generated web_assets.cpp).
const std::vector<WebAsset>& web_assets();

/// The asset served at `path` ("/" is "/index.html"), or nullptr.
const WebAsset* find_web_asset(const std::string& path);

}  // namespace ls::server
