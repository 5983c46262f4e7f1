// Everything the nginx renderer needs, gathered by the caller from the store, the settings and
// Swarm (which apps have a running task). Plain data: the renderer reads nothing else.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/apps/app_definition.h"
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
  std::string acme_webroot = "/captain/data/letsencrypt/webroot";
};

struct RenderInputs {
  std::vector<apps::AppDefinition> apps;  // any order; rendered sorted by name
  std::string root_domain;                // apps answer on <app>.<root_domain>
  config::ListenAddress controller;       // captain.<root_domain> is proxied here
  std::string module_path;                // load_module
  // listen for every server: a port ("80") or "ADDRESS:PORT" (IPv4 literal).
  std::string http_listen = "80";

  UpstreamMode upstream_mode = UpstreamMode::docker_dns;
  std::string docker_resolver = "127.0.0.11";  // Docker's embedded DNS
  // docker_dns: proxy to tasks.srv-captain--<app> (every running task's own address, DNS
  // round robin) instead of the service's virtual IP. Swarm's VIP balancing needs iptables
  // (IPVS) and drops connections idle for 15 minutes; task addresses need neither.
  bool resolve_tasks = false;
  int resolver_valid_seconds = 10;
  std::string published_host = "127.0.0.1";
  std::map<std::string, std::vector<std::uint16_t>> published_ports;  // app -> its tasks' ports

  // Apps with at least one running task. Only these are proxied; every other exposed app gets
  // a placeholder server answering 503 (see config_renderer.h).
  std::set<std::string> routable_apps;

  MetricsAccess metrics;
  std::map<std::string, std::string> app_snippets;  // app name -> server-level snippet
  std::string global_override;                      // http-level snippet, may be empty

  // The response cache zone apps with `cache` share (captain_cache_zone size).
  std::string cache_zone_size = "64m";

  RenderPaths paths;
  int worker_connections = 16384;
  int worker_rlimit_nofile = 65536;
};

}  // namespace captain::nginx
