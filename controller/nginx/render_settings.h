// What the nginx renderer takes from the controller's settings: fixed for the process's life,
// so checked once at start (check_render_settings) and never again per render. Everything that
// changes at run time (apps, the root domain, certificates, routing) is in RenderState
// (site_model.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "controller/common/expected.h"
#include "controller/config/listen_address.h"

namespace captain::nginx {

// How nginx reaches an app's containers.
enum class UpstreamMode {
  // nginx runs on captain-overlay-network: proxy_pass to http://srv-captain--<app>:<port>
  // through Docker's embedded DNS. The target is a variable, so nginx resolves it per request
  // (cached `resolver_valid`) and starts even when a name does not resolve yet.
  docker_dns,
  // nginx runs outside the overlay (e.g. on the host): each task publishes the app's HTTP port
  // on the host (mode host, a port Docker picks), and nginx balances over
  // http://<published_host>:<port> of every running task, moving on to the next on a refused
  // connection, so a task that stops mid-rollout costs no request.
  published_port,
};

// Who may read the module's status endpoint (captain.<root>/metrics).
struct MetricsAccess {
  std::vector<std::string> allow;           // IP addresses or CIDRs; empty = no network
  std::optional<std::string> bearer_token;  // captain_status_token when set
};

// Files nginx writes. Relative paths resolve against nginx's prefix (-p).
struct RenderPaths {
  std::string pid = "logs/nginx.pid";
  std::string error_log = "logs/error.log";
  std::string access_log = "logs/access.log";
  std::string temp_dir = "tmp";  // client_body, proxy, fastcgi, uwsgi, scgi below it
  std::string acme_webroot = "/captain/generated/nginx/acme-webroot";
};

// The controller's API behind captain.<root>, protected at the edge by the module.
struct ApiEdge {
  std::string rate_limit = "100r/m";  // per client address on /api/; empty: none
  // Wrong passwords per client address before nginx answers 429 on /api/v2/login: the
  // controller's own back-off (5 in 15 minutes), enforced before the request reaches it.
  std::string login_failures = "5r/15m";
  std::size_t max_body_bytes = 8 * 1024 * 1024;         // the controller's max_body
  std::size_t upload_max_bytes = std::size_t{1} << 30;  // the controller's upload_max
  int read_timeout_seconds = 660;                       // a deploy that waits for its rollout
};

// nginx's own spans (captain_trace_export), shipped where the controller ships its own.
struct TraceExport {
  std::string endpoint;       // an OTLP/HTTP URL; empty: nginx exports nothing
  double sample_ratio = 1.0;  // captain_trace_sample_rate for traces that start at nginx
  std::string service_name = "captain-nginx";
};

struct RenderSettings {
  config::ListenAddress controller;  // captain.<root> is proxied here
  std::string module_path;           // load_module
  // listen for every server: a port ("80") or "ADDRESS:PORT" (IPv4 literal).
  std::string http_listen = "80";
  std::string tls_listen = "443";  // the same for HTTPS servers

  UpstreamMode upstream_mode = UpstreamMode::docker_dns;
  std::string docker_resolver = "127.0.0.11";  // Docker's embedded DNS
  // docker_dns: proxy to tasks.srv-captain--<app> (every running task's own address, DNS
  // round robin) instead of the service's virtual IP. Swarm's VIP balancing needs iptables
  // (IPVS) and drops connections idle for 15 minutes; task addresses need neither.
  bool resolve_tasks = false;
  int resolver_valid_seconds = 10;
  std::string published_host = "127.0.0.1";

  MetricsAccess metrics;
  ApiEdge api;
  // The response cache zone apps with `cache` share (captain_cache_zone size).
  std::string cache_zone_size = "64m";
  TraceExport trace;

  RenderPaths paths;
  int worker_connections = 16384;
  int worker_rlimit_nofile = 65536;
};

// Settings that passed check_render_settings, with what is derived from them once.
struct CheckedSettings {
  RenderSettings s;
  std::string controller_target;    // "127.0.0.1:3000", "[::1]:3000", "controller:3000"
  bool controller_by_name = false;  // a host name: resolved per request where a resolver exists
  std::string https_port_suffix;    // ":8443" in redirects when the TLS port is not 443
};

struct RenderError {
  std::string app;       // the app at fault; empty for a global input
  std::string field;     // e.g. "customDomain[1]", "snippet", "rootDomain", "metrics.allow[0]"
  std::size_t line = 0;  // 1-based line in a snippet, else 0
  std::string message;   // a whole sentence naming the app, the field and the line
  friend bool operator==(const RenderError&, const RenderError&) = default;
};

// Every value is checked to be safe to write into nginx's configuration; the error names the
// setting (camelCase field) and what it must be.
Expected<CheckedSettings, RenderError> check_render_settings(RenderSettings settings);

}  // namespace captain::nginx
