// The web page (src/server/web, embedded at build time): GET / and its scripts and styles.
#include "server/context.h"
#include "server/web_assets.h"

namespace ls::server {

const WebAsset* find_web_asset(const std::string& path) {
  const std::string p = path == "/" ? "/index.html" : path;
  for (const auto& a : web_assets())
    if (p == a.path) return &a;
  return nullptr;
}

void add_web_routes(httplib::Server& svr, ServerContext&) {
  auto serve = [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* a = find_web_asset(req.path);
    if (!a) {
      send_error(res, 404, "", "no such page: " + req.path.substr(0, 200));
      return;
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->content_type);
  };
  svr.Get("/", serve);
  svr.Get("/[A-Za-z0-9_.-]+\\.(html|js|css|svg|png)", serve);
}

}  // namespace ls::server
