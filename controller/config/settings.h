// Controller settings: built-in defaults, then controller.yaml, then CAPTAIN_* environment
// variables, then the command line, each layer overriding the one before.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/expected.h"
#include "controller/config/cidr.h"
#include "controller/config/listen_address.h"

namespace captain::config {

inline constexpr std::string_view kDefaultListen = "127.0.0.1:3000";
inline constexpr std::string_view kDefaultConfigPath = "/etc/captain/controller.yaml";
inline constexpr std::string_view kListenEnv = "CAPTAIN_LISTEN";

// How the controller drives nginx: a local master (SIGHUP via its pid file), the tasks of a
// Swarm service (Docker API), or not at all.
enum class NginxReload { pid, docker, off };

// 127.0.0.0/8 and ::1: a proxy on the same host (./scripts/run's nginx, a local nginx).
std::vector<Cidr> default_trusted_proxies();

struct Settings {
  ListenAddress listen;
  std::string data_dir = "/captain/data";  // captain.db lives here
  // First-run password: hashed into the store when it has none. Never logged.
  std::optional<std::string> password;
  std::string password_file;  // read into `password` by load_settings; empty: none
  std::string root_domain = "captain.localhost";
  std::string docker_socket = "/var/run/docker.sock";
  std::string nginx_conf_dir = "/captain/generated/nginx";
  std::string nginx_pid_file = "/run/nginx.pid";
  NginxReload nginx_reload = NginxReload::pid;
  std::string nginx_service = "captain-nginx";
  std::string nginx_binary = "/usr/sbin/nginx";
  std::string nginx_module = "/usr/lib/nginx/modules/ngx_http_captain_module.so";
  std::string nginx_listen = "80";
  std::string nginx_tls_listen = "443";  // HTTPS servers (rendered once a certificate exists)
  bool nginx_published_ports = false;    // nginx_upstream=published-port
  // published-port: where the tasks' published ports are reached (docker_gwbridge's
  // host_binding_ipv4).
  std::string nginx_published_host = "127.0.0.1";
  bool nginx_resolve_tasks = false;  // nginx_upstream=docker-dns-tasks
  // The controller's API as nginx reaches it (captain.<root>); unset: the listen address.
  std::optional<ListenAddress> nginx_controller;
  std::string nginx_log_dir = "/var/log/nginx";
  std::string nginx_temp_dir = "/var/lib/nginx/captain";
  std::string nginx_override_file;  // empty: none
  std::vector<std::string> metrics_allow{"127.0.0.1"};
  std::optional<std::string> metrics_token;
  std::chrono::seconds token_ttl{std::chrono::hours(24 * 7)};
  std::chrono::seconds secret_rotation{std::chrono::hours(24 * 30)};
  std::size_t max_body_bytes = 8 * 1024 * 1024;
  // Deploys from source: the largest upload (written to disk as it arrives, never held in
  // memory), what its tar may unpack to, builds at once on the engine, how long one may take,
  // and how many built images are kept per app.
  std::size_t upload_max_bytes = std::size_t{1} << 30;
  std::size_t build_max_unpacked_bytes = std::size_t{4} << 30;
  std::size_t build_max_entries = 50'000;
  std::size_t build_concurrency = 1;
  std::chrono::seconds build_timeout{std::chrono::hours(1)};
  std::size_t build_keep_versions = 5;
  // The listener: request line and headers must arrive within this; connections in total and
  // per client address (trusted proxies count in the total only).
  std::chrono::seconds request_header_timeout{5};
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_client = 64;
  // Peers whose X-Forwarded-For / X-Real-IP are believed (the generated nginx in front of us).
  std::vector<Cidr> trusted_proxies = default_trusted_proxies();
  // captain.<root>/api/ through nginx: captain_limit per client address; empty = none.
  std::string api_rate_limit = "100r/m";
  // Certificates: an RFC 8555 CA, through the lego client (HTTP-01 via the webroot nginx serves).
  std::string acme_directory = "https://acme-v02.api.letsencrypt.org/directory";
  std::optional<std::string> acme_email;      // required before the first certificate
  std::string acme_ca_bundle;                 // CA bundle trusted for acme_directory; "" system
  std::string acme_client = "/usr/bin/lego";  // the ACME client binary
  // Renew when this much validity is left; unset: when a third of the lifetime is left.
  std::optional<std::chrono::seconds> acme_renew_before;
  std::chrono::seconds acme_renew_check{std::chrono::hours(12)};  // how often expiry is checked
  // Swarm: how long a rollout may take before it is reported failed, how long Swarm watches a
  // new task for failure before moving on (UpdateConfig.Monitor), how long an open Docker
  // circuit breaker waits before a trial call, and how often the store is reconciled with Swarm.
  std::chrono::seconds deploy_timeout{600};
  std::chrono::seconds update_monitor{15};
  std::chrono::seconds docker_breaker_reset{60};
  std::chrono::seconds reconcile_interval{60};
  // Credentials for pulling images from a private registry (X-Registry-Auth); unset = anonymous.
  std::optional<std::string> registry_username;
  std::optional<std::string> registry_password;
  // The controller's own spans, as OTLP/HTTP JSON: where they go (empty: not exported), the
  // share of new traces recorded (a caller's traceparent decides for its own trace), the
  // service name they carry, and the export's batching.
  std::string trace_export_endpoint;
  // Where nginx sends its spans (captain_trace_export); unset: trace_export_endpoint, "off":
  // nowhere. nginx may reach the collector by another address (another container, node).
  std::optional<std::string> nginx_trace_export_endpoint;
  double trace_sample_ratio = 1.0;
  std::string trace_service_name = "captain-controller";
  std::size_t trace_export_batch = 512;
  std::chrono::seconds trace_export_interval{5};
  std::size_t trace_export_queue = 2048;
};

// What the process was asked to do.
struct Startup {
  Settings settings;
  std::string config_path;  // the file read, empty when none
  bool show_help = false;
};

// Reads one environment variable; nullopt when unset. Injected so tests need no real
// environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Reads a whole file; nullopt when it does not exist, an error message when it cannot be read.
using FileReader =
    std::function<Expected<std::optional<std::string>, std::string>(const std::string& path)>;

// The real process environment (getenv). Call before other threads start.
EnvLookup process_environment();

// Reads files from disk.
FileReader disk_files();

// Builds the settings from defaults, the YAML file (--config / CAPTAIN_CONFIG, else the
// default path if it exists), env and args (argv without the program name). Every value given
// is validated, including one a later layer overrides, so a typo never lies dormant; unknown
// YAML keys are errors. The error is a one-line message for stderr.
Expected<Startup, std::string> load_settings(std::span<const std::string_view> args,
                                             const EnvLookup& env,
                                             const FileReader& files = disk_files());

// "90", "90s", "15m", "12h", "7d" -> seconds (> 0).
Expected<std::chrono::seconds, std::string> parse_duration(std::string_view text);

// "512", "64k", "8m", "1g" -> bytes (> 0), at most `max`.
Expected<std::size_t, std::string> parse_byte_size(std::string_view text,
                                                   std::size_t max = std::size_t{1} << 30);

// A whole number from min to max.
Expected<std::size_t, std::string> parse_count(std::string_view text, std::size_t min,
                                               std::size_t max);

// An e-mail address as an ACME account contact; the error says why not.
Expected<void, std::string> check_email(std::string_view email);

// A request rate as captain_limit_zone spells it ("100r/m", "5r/15m").
Expected<void, std::string> parse_rate(std::string_view rate);

// A share from 0 to 1 ("0.25", "1").
Expected<double, std::string> parse_ratio(std::string_view text);

// --help text.
std::string usage_text();

}  // namespace captain::config
