// The nginx renderer: RenderInputs in, the whole generated configuration tree out. Pure: no
// I/O, no clock, no randomness, so the same inputs always give byte-identical files (the
// pipeline writes them to a staging directory and runs `nginx -t` on it).
//
// The tree (paths relative to the directory nginx.conf lives in, which is also where nginx
// resolves the relative `include`s):
//   nginx.conf                 load_module, workers, events, http (module settings, zones,
//                              resolver, websocket map), includes servers/*.conf, conf.d/*.conf
//   servers/00-default.conf    default_server: unknown Host -> 404 (never some app by accident)
//   servers/captain-root.conf  captain.<root> -> the controller API; /metrics -> captain_status
//   servers/app-<name>.conf    one per app exposed as a web app
//   snippets/app-<name>.conf   the operator's snippet for that app, included inside its server
//   conf.d/zz-override.conf    the operator's global (http-level) override, always present
//
// Render decisions:
// * An exposed app that is not in `routable_apps` (no running task yet), or that has no
//   published port in published_port mode, keeps its server block (same names, ACME path,
//   metrics, snippet) but `location /` answers 503 instead of proxying: the names stay claimed,
//   nginx never resolves a service that does not exist yet (no "host not found" at start), and
//   clients see an honest 503 rather than a 502 or a different app.
// * notExposeAsWebApp apps get nothing (no server, no zone, their snippet is neither rendered
//   nor checked).
// * `cache` puts the app's server behind `captain_cache` in one zone all such apps share.
// * published_port mode: an upstream block per routable app lists its running tasks' host
//   ports (captain_app_<name>); an app with no task port is not routable.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "controller/common/expected.h"
#include "controller/nginx/render_inputs.h"

namespace captain::nginx {

struct RenderedFile {
  std::string path;  // relative, '/'-separated, e.g. "servers/app-web.conf"
  std::string content;
  friend bool operator==(const RenderedFile&, const RenderedFile&) = default;
};

// Sorted by path.
using RenderedTree = std::vector<RenderedFile>;

struct RenderError {
  std::string app;       // the app at fault; empty for a global input
  std::string field;     // e.g. "customDomain[1]", "snippet", "rootDomain", "metrics.allow[0]"
  std::size_t line = 0;  // 1-based line in a snippet, else 0
  std::string message;   // a whole sentence naming the app, the field and the line
  friend bool operator==(const RenderError&, const RenderError&) = default;
};

// The metrics zone every server counts in.
inline constexpr const char* kMetricsZone = "captain";
// The response cache zone apps with `cache` share.
inline constexpr const char* kCacheZone = "apps";

// Header policies an app may name: "" / "default" (the module's set, on at http level),
// "strict" (X-Frame-Options DENY and a same-origin Content-Security-Policy unless the app
// sends its own), "off" (no security headers for this app).
Expected<RenderedTree, RenderError> render_nginx_tree(const RenderInputs& inputs);

}  // namespace captain::nginx
