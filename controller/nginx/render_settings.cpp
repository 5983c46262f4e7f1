#include "controller/nginx/render_settings.h"

#include <algorithm>

#include "controller/nginx/nginx_text.h"
#include "shared/otlp/otlp_http.h"

namespace captain::nginx {
namespace {

Unexpected<RenderError> fail(const TextError& e) {
  return Unexpected(RenderError{"", e.field, e.line, e.message});
}

Unexpected<RenderError> fail(const std::string& field, const std::string& why) {
  return fail(TextError{field, 0, field + " " + why});
}

std::string bracketed(const std::string& host) {
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "[::1]";
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

// "80" or "IPv4:PORT"; the port.
Checked<int> check_listen(const std::string& listen, const std::string& field) {
  std::string port = listen;
  const auto error = TextError{field, 0, field + " must be PORT or IPv4:PORT"};
  if (auto colon = listen.rfind(':'); colon != std::string::npos) {
    auto host = check_ip(listen.substr(0, colon), field, false);
    if (!host) return Unexpected(host.error());
    if (host->find(':') != std::string::npos) return Unexpected(error);
    port = listen.substr(colon + 1);
  }
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) return Unexpected(error);
  return std::stoi(port);
}

bool is_ip_literal(const std::string& host) {
  return static_cast<bool>(check_ip(host, "host", false));
}

}  // namespace

Expected<CheckedSettings, RenderError> check_render_settings(RenderSettings in) {
  if (auto p = check_path(in.module_path, "modulePath"); !p) return fail(p.error());
  if (auto p = check_path(in.paths.pid, "paths.pid"); !p) return fail(p.error());
  if (auto p = check_path(in.paths.error_log, "paths.errorLog"); !p) return fail(p.error());
  if (auto p = check_path(in.paths.access_log, "paths.accessLog"); !p) return fail(p.error());
  if (auto p = check_path(in.paths.temp_dir, "paths.tempDir"); !p) return fail(p.error());
  if (auto p = check_path(in.paths.acme_webroot, "paths.acmeWebroot"); !p) return fail(p.error());
  auto http_port = check_listen(in.http_listen, "httpListen");
  if (!http_port) return fail(http_port.error());
  auto tls_port = check_listen(in.tls_listen, "tlsListen");
  if (!tls_port) return fail(tls_port.error());
  if (in.http_listen == in.tls_listen || *http_port == *tls_port) {
    return fail("tlsListen", "must differ from httpListen");
  }
  auto controller_host = check_host(in.controller.host, "controller.host");
  if (!controller_host) return fail(controller_host.error());
  if (in.controller.port == 0) return fail("controller.port", "must be 1 to 65535");
  if (in.upstream_mode == UpstreamMode::docker_dns) {
    if (auto r = check_ip(in.docker_resolver, "dockerResolver", false); !r) return fail(r.error());
    if (in.resolver_valid_seconds < 1 || in.resolver_valid_seconds > 3600) {
      return fail("resolverValidSeconds", "must be 1 to 3600");
    }
  } else if (auto h = check_host(in.published_host, "publishedHost"); !h) {
    return fail(h.error());
  }
  if (in.worker_connections < 512 || in.worker_connections > 1000000) {
    return fail("workerConnections", "must be 512 to 1000000");
  }
  if (in.worker_rlimit_nofile < in.worker_connections || in.worker_rlimit_nofile > 1048576) {
    return fail("workerRlimitNofile", "must be at least workerConnections and at most 1048576");
  }
  for (std::size_t i = 0; i < in.metrics.allow.size(); ++i) {
    auto ip = check_ip(in.metrics.allow[i], "metrics.allow[" + std::to_string(i) + "]", true);
    if (!ip) return fail(ip.error());
  }
  if (in.metrics.bearer_token) {
    if (auto t = check_token(*in.metrics.bearer_token, "metrics.bearerToken"); !t) {
      return fail(t.error());
    }
  }
  if (auto size = check_size(in.cache_zone_size, "cacheZoneSize"); !size) return fail(size.error());
  if (!in.api.rate_limit.empty()) {
    if (auto r = check_rate(in.api.rate_limit, "api.rateLimit"); !r) return fail(r.error());
  }
  if (auto r = check_rate(in.api.login_failures, "api.loginFailures"); !r) return fail(r.error());
  if (in.api.max_body_bytes < 1024 || in.api.max_body_bytes > (std::size_t{1} << 40)) {
    return fail("api.maxBodyBytes", "must be 1 KiB to 1 TiB");
  }
  if (in.api.upload_max_bytes < 1024 || in.api.upload_max_bytes > (std::size_t{1} << 40)) {
    return fail("api.uploadMaxBytes", "must be 1 KiB to 1 TiB");
  }
  if (in.api.read_timeout_seconds < 1 || in.api.read_timeout_seconds > 86400) {
    return fail("api.readTimeoutSeconds", "must be 1 to 86400");
  }

  if (!in.trace.endpoint.empty()) {
    std::string why;
    if (!otlp::traces_url(in.trace.endpoint, &why)) return fail("trace.endpoint", why);
    // An nginx argument: anything that ends or opens a directive would change the file.
    if (in.trace.endpoint.find_first_of(";{}'\"\\#") != std::string::npos) {
      return fail("trace.endpoint", "must not contain ; { } ' \" \\ or #");
    }
  }
  if (!(in.trace.sample_ratio >= 0.0 && in.trace.sample_ratio <= 1.0)) {
    return fail("trace.sampleRatio", "must be 0 to 1");
  }
  if (in.trace.service_name.empty() || in.trace.service_name.size() > 255 ||
      in.trace.service_name.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
          std::string::npos) {
    return fail("trace.serviceName", "must be 1 to 255 of A-Z a-z 0-9 . _ -");
  }

  CheckedSettings out;
  out.controller_target = bracketed(*controller_host) + ":" + std::to_string(in.controller.port);
  out.controller_by_name = !is_ip_literal(*controller_host) && *controller_host != "localhost";
  out.https_port_suffix = *tls_port == 443 ? "" : ":" + std::to_string(*tls_port);
  out.s = std::move(in);
  return out;
}

}  // namespace captain::nginx
