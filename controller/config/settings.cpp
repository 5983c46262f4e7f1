#include "controller/config/settings.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "shared/otlp/otlp_http.h"
#include "shared/validation/rate.h"

namespace captain::config {
namespace {

using Setter = Expected<void, std::string> (*)(Settings&, std::string_view value);

// One setting: its YAML key, environment variable and (optional) command-line flag share one
// parser, so the three layers can never disagree on what a value means.
struct Option {
  std::string_view key;   // controller.yaml
  std::string_view env;   // CAPTAIN_*
  std::string_view flag;  // "--listen", or empty when there is none
  std::string_view help;
  Setter set;
};

Expected<void, std::string> ok() {
  return {};
}

Expected<void, std::string> set_path(std::string& field, std::string_view value) {
  if (value.empty()) return Unexpected(std::string("must not be empty"));
  if (value.front() != '/') {
    return Unexpected("must be an absolute path, not \"" + std::string(value) + "\"");
  }
  field = value;
  return ok();
}

constexpr std::array kOptions{
    Option{"listen", kListenEnv, "--listen", "address of the HTTP API (127.0.0.1:3000)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto parsed = parse_listen_address(v);
             if (!parsed) return Unexpected(parsed.error());
             s.listen = std::move(*parsed);
             return ok();
           }},
    Option{"data_dir", "CAPTAIN_DATA_DIR", "--data-dir", "state directory (/captain/data)",
           [](Settings& s, std::string_view v) { return set_path(s.data_dir, v); }},
    // No flag: a password on the command line is visible to every user through ps.
    Option{"password", "CAPTAIN_PASSWORD", "", "first-run password",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             if (v.find('\0') != std::string_view::npos) {
               return Unexpected(std::string("must not contain NUL"));
             }
             s.password = std::string(v);
             return ok();
           }},
    // A Docker secret (/run/secrets/...) keeps the password out of the service's environment.
    Option{"password_file", "CAPTAIN_PASSWORD_FILE", "",
           "file holding the first-run password (e.g. a Docker secret)",
           [](Settings& s, std::string_view v) { return set_path(s.password_file, v); }},
    Option{"root_domain", "CAPTAIN_ROOT_DOMAIN", "--root-domain",
           "apps are <app>.<root_domain> (captain.localhost)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.root_domain = v;
             return ok();
           }},
    Option{"docker_socket", "CAPTAIN_DOCKER_SOCKET", "--docker-socket",
           "Docker Engine API socket (/var/run/docker.sock)",
           [](Settings& s, std::string_view v) { return set_path(s.docker_socket, v); }},
    Option{"nginx_conf_dir", "CAPTAIN_NGINX_CONF_DIR", "--nginx-conf-dir",
           "where generated nginx config goes (/captain/generated/nginx)",
           [](Settings& s, std::string_view v) { return set_path(s.nginx_conf_dir, v); }},
    Option{"nginx_pid_file", "CAPTAIN_NGINX_PID_FILE", "--nginx-pid-file",
           "pid file of the local nginx master (/run/nginx.pid)",
           [](Settings& s, std::string_view v) { return set_path(s.nginx_pid_file, v); }},
    Option{"nginx_reload", "CAPTAIN_NGINX_RELOAD", "",
           "how nginx is driven: pid (a local master), docker (the nginx_service tasks) or off",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v == "pid") {
               s.nginx_reload = NginxReload::pid;
             } else if (v == "docker") {
               s.nginx_reload = NginxReload::docker;
             } else if (v == "off") {
               s.nginx_reload = NginxReload::off;
             } else {
               return Unexpected("must be pid, docker or off, not \"" + std::string(v) + "\"");
             }
             return ok();
           }},
    Option{"nginx_service", "CAPTAIN_NGINX_SERVICE", "",
           "the Swarm service running nginx for nginx_reload=docker (captain-nginx)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.nginx_service = v;
             return ok();
           }},
    Option{"nginx_binary", "CAPTAIN_NGINX_BINARY", "",
           "nginx for `nginx -t` with nginx_reload=pid (/usr/sbin/nginx)",
           [](Settings& s, std::string_view v) { return set_path(s.nginx_binary, v); }},
    Option{"nginx_module", "CAPTAIN_NGINX_MODULE", "",
           "ngx_http_captain_module.so as nginx sees it "
           "(/usr/lib/nginx/modules/ngx_http_captain_module.so)",
           [](Settings& s, std::string_view v) { return set_path(s.nginx_module, v); }},
    Option{"nginx_listen", "CAPTAIN_NGINX_LISTEN", "",
           "where nginx serves apps: PORT or IPv4:PORT (80)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.nginx_listen = v;
             return ok();
           }},
    Option{"nginx_tls_listen", "CAPTAIN_NGINX_TLS_LISTEN", "",
           "where nginx serves HTTPS: PORT or IPv4:PORT (443)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.nginx_tls_listen = v;
             return ok();
           }},
    Option{"nginx_upstream", "CAPTAIN_NGINX_UPSTREAM", "",
           "how nginx reaches apps: docker-dns (nginx on the overlay network, the service's "
           "virtual IP), docker-dns-tasks (the same, each task's own address) or published-port "
           "(nginx on the host, each task's HTTP port published)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             s.nginx_published_ports = v == "published-port";
             s.nginx_resolve_tasks = v == "docker-dns-tasks";
             if (v != "docker-dns" && v != "docker-dns-tasks" && v != "published-port") {
               return Unexpected("must be docker-dns, docker-dns-tasks or published-port, not \"" +
                                 std::string(v) + "\"");
             }
             return ok();
           }},
    Option{"nginx_published_host", "CAPTAIN_NGINX_PUBLISHED_HOST", "",
           "with nginx_upstream=published-port: the address the tasks' ports are published on "
           "(127.0.0.1)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.nginx_published_host = v;
             return ok();
           }},
    Option{"nginx_controller", "CAPTAIN_NGINX_CONTROLLER", "",
           "HOST:PORT where nginx reaches the controller's API for captain.<root> (listen)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto parsed = parse_listen_address(v);
             if (!parsed) return Unexpected(parsed.error());
             s.nginx_controller = std::move(*parsed);
             return ok();
           }},
    Option{"nginx_log_dir", "CAPTAIN_NGINX_LOG_DIR", "",
           "nginx's error.log and access.log (/var/log/nginx)",
           [](Settings& s, std::string_view v) { return set_path(s.nginx_log_dir, v); }},
    Option{"nginx_temp_dir", "CAPTAIN_NGINX_TEMP_DIR", "",
           "nginx's temporary files (/var/lib/nginx/captain)",
           [](Settings& s, std::string_view v) { return set_path(s.nginx_temp_dir, v); }},
    Option{"nginx_override_file", "CAPTAIN_NGINX_OVERRIDE_FILE", "",
           "nginx text included at http level in every tree (none)",
           [](Settings& s, std::string_view v) { return set_path(s.nginx_override_file, v); }},
    Option{"metrics_allow", "CAPTAIN_METRICS_ALLOW", "",
           "addresses/CIDRs (comma-separated) that may read captain.<root>/metrics (127.0.0.1)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             s.metrics_allow.clear();
             std::size_t start = 0;
             while (start <= v.size()) {
               std::size_t comma = v.find(',', start);
               if (comma == std::string_view::npos) comma = v.size();
               std::string_view item = v.substr(start, comma - start);
               while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
               while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
               if (!item.empty()) s.metrics_allow.emplace_back(item);
               start = comma + 1;
             }
             return ok();
           }},
    Option{"metrics_token", "CAPTAIN_METRICS_TOKEN", "",
           "bearer token also required on captain.<root>/metrics (none)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.metrics_token = std::string(v);
             return ok();
           }},
    Option{"trusted_proxies", "CAPTAIN_TRUSTED_PROXIES", "",
           "addresses/CIDRs (comma-separated) whose X-Forwarded-For is believed "
           "(127.0.0.0/8,::1)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto parsed = parse_cidr_list(v);
             if (!parsed) return Unexpected(parsed.error());
             s.trusted_proxies = std::move(*parsed);
             return ok();
           }},
    Option{"api_rate_limit", "CAPTAIN_API_RATE_LIMIT", "",
           "requests per client address to captain.<root>/api/ through nginx, e.g. 100r/m, "
           "or off (100r/m)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v == "off") {
               s.api_rate_limit.clear();
               return ok();
             }
             if (auto rate = parse_rate(v); !rate) return Unexpected(rate.error());
             s.api_rate_limit = v;
             return ok();
           }},
    Option{"acme_directory", "CAPTAIN_ACME_DIRECTORY", "",
           "the ACME CA's directory URL (Let's Encrypt production)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (!v.starts_with("https://") || v.size() <= 8 ||
                 v.find_first_of(" \t\r\n\"'") != std::string_view::npos) {
               return Unexpected("must be an https:// URL (RFC 8555), not \"" + std::string(v) +
                                 "\"");
             }
             s.acme_directory = v;
             return ok();
           }},
    Option{"acme_email", "CAPTAIN_ACME_EMAIL", "",
           "contact e-mail of the ACME account (required before the first certificate; "
           "enablessl sets it too)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (auto e = check_email(v); !e) return Unexpected(e.error());
             s.acme_email = std::string(v);
             return ok();
           }},
    Option{"acme_ca_bundle", "CAPTAIN_ACME_CA_BUNDLE", "",
           "PEM bundle of CAs to trust for acme_directory (private CAs; default: the system's)",
           [](Settings& s, std::string_view v) { return set_path(s.acme_ca_bundle, v); }},
    Option{"acme_client", "CAPTAIN_ACME_CLIENT", "", "the lego ACME client (/usr/bin/lego)",
           [](Settings& s, std::string_view v) { return set_path(s.acme_client, v); }},
    Option{"acme_renew_before", "CAPTAIN_ACME_RENEW_BEFORE", "",
           "renew a certificate when this much validity is left (a third of its lifetime)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.acme_renew_before = *d;
             return ok();
           }},
    Option{"acme_renew_check", "CAPTAIN_ACME_RENEW_CHECK", "",
           "certificates are checked for renewal this often (12h)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.acme_renew_check = *d;
             return ok();
           }},
    Option{"token_ttl", "CAPTAIN_TOKEN_TTL", "", "lifetime of a login token (7d)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.token_ttl = *d;
             return ok();
           }},
    Option{"secret_rotation", "CAPTAIN_SECRET_ROTATION", "",
           "token signing secret rotated after (30d)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.secret_rotation = *d;
             return ok();
           }},
    Option{"max_body", "CAPTAIN_MAX_BODY", "", "largest API request body (8m)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_byte_size(v);
             if (!n) return Unexpected(n.error());
             s.max_body_bytes = *n;
             return ok();
           }},
    Option{"upload_max", "CAPTAIN_UPLOAD_MAX", "",
           "largest source upload for a deploy (1g; nginx's captain.<root> applies it too)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_byte_size(v, std::size_t{64} << 30);
             if (!n) return Unexpected(n.error());
             s.upload_max_bytes = *n;
             return ok();
           }},
    Option{"build_max_unpacked", "CAPTAIN_BUILD_MAX_UNPACKED", "",
           "an uploaded tar may unpack to at most (4g)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_byte_size(v, std::size_t{256} << 30);
             if (!n) return Unexpected(n.error());
             s.build_max_unpacked_bytes = *n;
             return ok();
           }},
    Option{"build_max_entries", "CAPTAIN_BUILD_MAX_ENTRIES", "",
           "an uploaded tar may hold at most this many entries (50000)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_count(v, 1, 10'000'000);
             if (!n) return Unexpected(n.error());
             s.build_max_entries = *n;
             return ok();
           }},
    Option{"build_concurrency", "CAPTAIN_BUILD_CONCURRENCY", "",
           "image builds at once on the Docker engine (1)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_count(v, 1, 64);
             if (!n) return Unexpected(n.error());
             s.build_concurrency = *n;
             return ok();
           }},
    Option{"build_timeout", "CAPTAIN_BUILD_TIMEOUT", "", "an image build may take at most (1h)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.build_timeout = *d;
             return ok();
           }},
    Option{"build_keep_versions", "CAPTAIN_BUILD_KEEP_VERSIONS", "",
           "built images kept per app, newest first (5; the running one is always kept)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_count(v, 1, 1000);
             if (!n) return Unexpected(n.error());
             s.build_keep_versions = *n;
             return ok();
           }},
    Option{"request_header_timeout", "CAPTAIN_REQUEST_HEADER_TIMEOUT", "",
           "a request's line and headers must arrive within (5s; slower clients are closed)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.request_header_timeout = *d;
             return ok();
           }},
    Option{"max_connections", "CAPTAIN_MAX_CONNECTIONS", "", "open API connections at most (1024)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_count(v, 1, 1000000);
             if (!n) return Unexpected(n.error());
             s.max_connections = *n;
             return ok();
           }},
    Option{"max_connections_per_client", "CAPTAIN_MAX_CONNECTIONS_PER_CLIENT", "",
           "open API connections per client address at most (64; trusted proxies exempt)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_count(v, 1, 1000000);
             if (!n) return Unexpected(n.error());
             s.max_connections_per_client = *n;
             return ok();
           }},
    Option{"deploy_timeout", "CAPTAIN_DEPLOY_TIMEOUT", "",
           "a rollout not converged by then has failed (10m)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.deploy_timeout = *d;
             return ok();
           }},
    Option{"update_monitor", "CAPTAIN_UPDATE_MONITOR", "",
           "Swarm watches each updated task this long (15s)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.update_monitor = *d;
             return ok();
           }},
    Option{"docker_breaker_reset", "CAPTAIN_DOCKER_BREAKER_RESET", "",
           "an open Docker circuit breaker retries after (60s)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.docker_breaker_reset = *d;
             return ok();
           }},
    Option{"reconcile_interval", "CAPTAIN_RECONCILE_INTERVAL", "",
           "store and Swarm are compared this often (60s)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.reconcile_interval = *d;
             return ok();
           }},
    Option{"registry_username", "CAPTAIN_REGISTRY_USERNAME", "",
           "user for pulling images from a private registry",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.registry_username = std::string(v);
             return ok();
           }},
    Option{"registry_password", "CAPTAIN_REGISTRY_PASSWORD", "",
           "password for registry_username (never logged)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.registry_password = std::string(v);
             return ok();
           }},
    // Empty is accepted: it turns export off again (an env var over a file's endpoint).
    Option{"trace_export_endpoint", "CAPTAIN_TRACE_EXPORT_ENDPOINT", "",
           "OTLP/HTTP collector for the controller's spans, e.g. http://otel-collector:4318 "
           "(/v1/traces is appended to a bare address); empty: spans are not exported",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             std::string why;
             if (!v.empty() && !otlp::traces_url(v, &why)) {
               return Unexpected("\"" + std::string(v) + "\" is not an OTLP/HTTP endpoint: " + why);
             }
             s.trace_export_endpoint = v;
             return ok();
           }},
    Option{"nginx_trace_export_endpoint", "CAPTAIN_NGINX_TRACE_EXPORT_ENDPOINT", "",
           "OTLP/HTTP collector for nginx's spans as nginx reaches it (default: "
           "trace_export_endpoint; \"off\": nginx exports nothing)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             std::string why;
             if (v != "off" && !otlp::traces_url(v, &why)) {
               return Unexpected("\"" + std::string(v) + "\" is not an OTLP/HTTP endpoint: " + why);
             }
             s.nginx_trace_export_endpoint = std::string(v);
             return ok();
           }},
    Option{"trace_sample_ratio", "CAPTAIN_TRACE_SAMPLE_RATIO", "",
           "share of new traces recorded, 0 to 1 (1); a request's sampled traceparent decides "
           "for its own trace",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto ratio = parse_ratio(v);
             if (!ratio) return Unexpected(ratio.error());
             s.trace_sample_ratio = *ratio;
             return ok();
           }},
    Option{"trace_service_name", "CAPTAIN_TRACE_SERVICE_NAME", "",
           "service.name of the exported spans (captain-controller)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             if (v.empty()) return Unexpected(std::string("must not be empty"));
             s.trace_service_name = v;
             return ok();
           }},
    Option{"trace_export_batch", "CAPTAIN_TRACE_EXPORT_BATCH", "",
           "spans per export request at most (512)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_count(v, 1, 100000);
             if (!n) return Unexpected(n.error());
             s.trace_export_batch = *n;
             return ok();
           }},
    Option{"trace_export_interval", "CAPTAIN_TRACE_EXPORT_INTERVAL", "",
           "longest a span waits for its batch to fill (5s)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto d = parse_duration(v);
             if (!d) return Unexpected(d.error());
             s.trace_export_interval = *d;
             return ok();
           }},
    Option{"trace_export_queue", "CAPTAIN_TRACE_EXPORT_QUEUE", "",
           "spans waiting for export at most; more are dropped and counted (2048)",
           [](Settings& s, std::string_view v) -> Expected<void, std::string> {
             auto n = parse_count(v, 1, 1000000);
             if (!n) return Unexpected(n.error());
             s.trace_export_queue = *n;
             return ok();
           }},
};

const Option* option_by_key(std::string_view key) {
  for (const auto& o : kOptions) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

Expected<void, std::string> apply(const Option& option, Settings& settings, std::string_view source,
                                  std::string_view value) {
  auto result = option.set(settings, value);
  if (!result) return Unexpected(std::string(source) + ": " + result.error());
  return ok();
}

Expected<void, std::string> apply_yaml(const std::string& path, const std::string& text,
                                       Settings& settings) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Unexpected(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return ok();  // an empty file: all defaults
  if (!root.IsMap()) return Unexpected(path + ": expected a mapping of settings");
  for (const auto& entry : root) {
    const std::string line = std::to_string(entry.first.Mark().line + 1);
    const std::string key = entry.first.Scalar();
    const Option* option = option_by_key(key);
    if (option == nullptr) {
      return Unexpected(path + ":" + line + ": unknown setting \"" + key + "\"");
    }
    if (!entry.second.IsScalar()) {
      return Unexpected(path + ":" + line + ": " + key + " must be a single value");
    }
    auto applied = apply(*option, settings, path + ":" + line + ": " + key, entry.second.Scalar());
    if (!applied) return applied;
  }
  return ok();
}

}  // namespace

std::vector<Cidr> default_trusted_proxies() {
  auto parsed = parse_cidr_list("127.0.0.0/8, ::1");
  return parsed ? *parsed : std::vector<Cidr>{};
}

Expected<std::size_t, std::string> parse_count(std::string_view text, std::size_t min,
                                               std::size_t max) {
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < min || n > max) {
    return Unexpected("invalid number \"" + std::string(text) + "\" (" + std::to_string(min) +
                      " to " + std::to_string(max) + ")");
  }
  return n;
}

Expected<void, std::string> check_email(std::string_view email) {
  // What an ACME CA accepts as a mailto: contact, and nothing that could break a command line
  // or a log line: one '@', a dot in the domain, no spaces, quotes or control characters.
  const auto at = email.find('@');
  const bool ok_chars = std::all_of(email.begin(), email.end(), [](char c) {
    return c > ' ' && c < 127 && c != '"' && c != '\'' && c != '\\' && c != '/' && c != ':' &&
           c != '%' && c != ',' && c != '<' && c != '>';
  });
  if (email.size() < 3 || email.size() > 254 || !ok_chars || at == 0 ||
      at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos ||
      email.find('.', at) == std::string_view::npos || email.back() == '.') {
    return Unexpected("\"" + std::string(email) + "\" is not an e-mail address");
  }
  return ok();
}

Expected<void, std::string> parse_rate(std::string_view rate) {
  if (auto problem = validation::rate_problem(rate); !problem.empty()) {
    return Unexpected("invalid rate \"" + std::string(rate) + "\": " + problem);
  }
  return ok();
}

Expected<double, std::string> parse_ratio(std::string_view text) {
  double ratio = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ratio);
  if (ec != std::errc() || end != text.data() + text.size() || !(ratio >= 0 && ratio <= 1)) {
    return Unexpected("invalid ratio \"" + std::string(text) + "\" (a number from 0 to 1)");
  }
  return ratio;
}

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

FileReader disk_files() {
  return [](const std::string& path) -> Expected<std::optional<std::string>, std::string> {
    std::error_code exists_error;
    if (!std::filesystem::exists(path, exists_error) && !exists_error) {
      return std::optional<std::string>();
    }
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Unexpected(path + ": " + std::strerror(errno != 0 ? errno : EIO));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Unexpected(path + ": read error");
    return std::optional<std::string>(text.str());
  };
}

Expected<std::chrono::seconds, std::string> parse_duration(std::string_view text) {
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (unit == "d") scale = 86400;
  if (ec != std::errc() || scale == 0 || number <= 0 ||
      number > std::numeric_limits<std::int32_t>::max() / scale) {
    return Unexpected("invalid duration \"" + std::string(text) +
                      "\" (a positive number with s, m, h or d, e.g. 15m)");
  }
  return std::chrono::seconds(number * scale);
}

Expected<std::size_t, std::string> parse_byte_size(std::string_view text, std::size_t max) {
  std::size_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::size_t shift = 64;
  if (unit.empty()) shift = 0;
  if (unit == "k" || unit == "K") shift = 10;
  if (unit == "m" || unit == "M") shift = 20;
  if (unit == "g" || unit == "G") shift = 30;
  if (ec != std::errc() || shift == 64 || number == 0 || number > max >> shift) {
    const std::string most = max % (std::size_t{1} << 30) == 0
                                 ? std::to_string(max >> 30) + "g"
                                 : std::to_string(max >> 20) + "m";
    return Unexpected("invalid size \"" + std::string(text) +
                      "\" (bytes, or a number with k, m or g, at most " + most + ")");
  }
  return number << shift;
}

Expected<Startup, std::string> load_settings(std::span<const std::string_view> args,
                                             const EnvLookup& env, const FileReader& files) {
  Startup startup;

  auto listen = parse_listen_address(kDefaultListen);
  if (!listen) return Unexpected("built-in default: " + listen.error());
  startup.settings.listen = std::move(*listen);

  // Pass 1 over the command line: options that decide what else is read (--config, --help)
  // and the syntax of every flag; values are applied in pass 2, after the file and env.
  std::optional<std::string> config_path;
  std::vector<std::pair<const Option*, std::string_view>> flag_values;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      startup.show_help = true;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (const auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    const Option* option = nullptr;
    for (const auto& o : kOptions) {
      if (!o.flag.empty() && o.flag == name) option = &o;
    }
    if (option == nullptr && name != "--config") {
      if (arg.starts_with("-")) return Unexpected("unknown option \"" + std::string(arg) + "\"");
      return Unexpected("unexpected argument \"" + std::string(arg) + "\"");
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 == args.size()) return Unexpected(std::string(name) + " needs a value");
      value = args[++i];
    }
    if (name == "--config") {
      config_path = std::string(value);
    } else {
      flag_values.emplace_back(option, value);
    }
  }

  // The file: --config, else CAPTAIN_CONFIG, else the default path. A file named explicitly
  // must exist; the default one is optional (no file = single-node defaults).
  bool explicit_config = config_path.has_value();
  if (!config_path) {
    if (auto from_env = env("CAPTAIN_CONFIG")) {
      config_path = *from_env;
      explicit_config = true;
    } else {
      config_path = std::string(kDefaultConfigPath);
    }
  }
  auto text = files(*config_path);
  if (!text) return Unexpected(text.error());
  if (*text) {
    auto applied = apply_yaml(*config_path, **text, startup.settings);
    if (!applied) return Unexpected(applied.error());
    startup.config_path = *config_path;
  } else if (explicit_config) {
    return Unexpected(*config_path + ": no such file");
  }

  for (const auto& option : kOptions) {
    if (auto value = env(option.env)) {
      auto applied = apply(option, startup.settings, option.env, *value);
      if (!applied) return Unexpected(applied.error());
    }
  }
  for (const auto& [option, value] : flag_values) {
    auto applied = apply(*option, startup.settings, option->flag, value);
    if (!applied) return Unexpected(applied.error());
  }
  if (!startup.settings.password_file.empty()) {
    if (startup.settings.password) {
      return Unexpected(std::string("set password or password_file, not both"));
    }
    auto secret = files(startup.settings.password_file);
    if (!secret) return Unexpected("password_file: " + secret.error());
    if (!*secret)
      return Unexpected("password_file: " + startup.settings.password_file + ": no such file");
    std::string password = **secret;
    if (!password.empty() && password.back() == '\n') password.pop_back();  // echo's newline
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty() || password.find('\0') != std::string::npos) {
      return Unexpected("password_file: " + startup.settings.password_file +
                        " must hold the password (not empty, no NUL)");
    }
    startup.settings.password = std::move(password);
  }
  if (startup.settings.registry_username.has_value() !=
      startup.settings.registry_password.has_value()) {
    return Unexpected(
        std::string("registry_username and registry_password must be set together (or neither)"));
  }
  return startup;
}

std::string usage_text() {
  std::string text =
      "Usage: captain-controller [--config FILE] [options]\n"
      "\n"
      "Tyaprover controller: owns app definitions, drives Docker Swarm and nginx.\n"
      "Settings come from defaults, then FILE (default /etc/captain/controller.yaml if it\n"
      "exists; also CAPTAIN_CONFIG), then CAPTAIN_* environment variables, then options.\n"
      "\n"
      "Options:\n"
      "  --config FILE          YAML settings file (keys as below)\n";
  for (const auto& o : kOptions) {
    std::string line = "  ";
    line += o.flag.empty() ? std::string("(no flag)") : std::string(o.flag) + " VALUE";
    line.resize(std::max<std::size_t>(line.size() + 1, 25), ' ');
    line += std::string(o.help) + "\n";
    line +=
        std::string(25, ' ') + "key " + std::string(o.key) + ", env " + std::string(o.env) + "\n";
    text += line;
  }
  text +=
      "  -h, --help             print this help and exit\n"
      "\n"
      "An IPv6 listen host goes in brackets: [::1]:3000.\n"
      "Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 when the service fails\n"
      "(for example the address cannot be bound), 2 for invalid usage or settings.\n";
  return text;
}

}  // namespace captain::config
