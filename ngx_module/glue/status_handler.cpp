#include "ngx_module/glue/status_handler.h"

#include <string>
#include <vector>

#include "ngx_module/core/metrics/buckets.h"
#include "ngx_module/core/metrics/series_labels.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/metrics_conf.h"
#include "ngx_module/glue/rate_limit_conf.h"
#include "ngx_module/glue/version.h"
#include "shared/metrics/exposition.h"

namespace captain::glue {

namespace {

using metrics::Label;
using metrics::MetricType;
using metrics::TextWriter;

const ngx_str_t kContentType = ngx_string("text/plain; version=0.0.4; charset=utf-8");
const ngx_str_t kWwwAuthenticate = ngx_string("WWW-Authenticate");
const ngx_str_t kBearerChallenge = ngx_string("Bearer realm=\"captain_status\"");

// Compares without an early exit, so response timing does not reveal how much of a guessed
// token was right.
bool same_secret(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool authorized(ngx_http_request_t* r, const ngx_str_t& token) noexcept {
  if (token.len == 0) return true;
  const ngx_table_elt_t* h = r->headers_in.authorization;
  if (h == nullptr) return false;
  const std::string_view value = to_view(h->value);
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() ||
      ngx_strncasecmp(reinterpret_cast<u_char*>(const_cast<char*>(value.data())),
                      reinterpret_cast<u_char*>(const_cast<char*>(kScheme.data())),
                      kScheme.size()) != 0) {
    return false;
  }
  return same_secret(value.substr(kScheme.size()), to_view(token));
}

std::string_view view(const ngx_str_t& s) {
  return to_view(s);
}

void write_build_info(TextWriter& w) {
  w.family("captain_build_info", MetricType::gauge,
           "Build of ngx_http_captain_module and the nginx it runs in.");
  w.sample("captain_build_info", {{"version", kModuleVersion}, {"nginx", NGINX_VERSION}},
           std::uint64_t{1});
}

void write_connections(TextWriter& w) {
  w.family("captain_http_connections", MetricType::gauge, "Client connections by state.");
#if (NGX_STAT_STUB)
  const auto reading = static_cast<std::uint64_t>(*ngx_stat_reading);
  const auto writing = static_cast<std::uint64_t>(*ngx_stat_writing);
  const auto active = static_cast<std::uint64_t>(*ngx_stat_active);
  const std::uint64_t busy = reading + writing;
  w.sample("captain_http_connections", {{"state", "active"}}, active);
  w.sample("captain_http_connections", {{"state", "reading"}}, reading);
  w.sample("captain_http_connections", {{"state", "writing"}}, writing);
  w.sample("captain_http_connections", {{"state", "waiting"}}, active > busy ? active - busy : 0);
#endif
}

struct RouteView {
  const MetricsZone* zone;
  const MetricsRoute* route;
  metrics::RouteSnapshot snapshot;
};

void write_routes(TextWriter& w, const std::vector<RouteView>& routes) {
  w.family("captain_http_requests_total", MetricType::counter,
           "Requests by server, route, method and status (exact codes from a fixed set, "
           "otherwise the status class).");
  for (const RouteView& v : routes) {
    for (std::size_t m = 0; m < metrics::kMethodCount; ++m) {
      for (std::size_t s = 0; s < metrics::kStatusCount; ++s) {
        const std::uint64_t n = v.snapshot.requests[m][s];
        if (n == 0) continue;
        w.sample("captain_http_requests_total",
                 {{"server", view(v.route->server)},
                  {"route", view(v.route->route)},
                  {"method", metrics::method_label(m)},
                  {"status", metrics::status_label(s)}},
                 n);
      }
    }
  }

  // Bounds in seconds, per zone (each zone has its own buckets).
  auto bounds_of = [](const MetricsZone* zone) {
    std::vector<double> bounds;
    for (std::size_t i = 0; i < zone->buckets.count; ++i) {
      bounds.push_back(static_cast<double>(zone->buckets.bounds_us[i]) / 1e6);
    }
    return bounds;
  };

  w.family("captain_http_request_duration_seconds", MetricType::histogram,
           "Time from the first request byte to the log phase.");
  for (const RouteView& v : routes) {
    const std::vector<double> bounds = bounds_of(v.zone);
    w.histogram("captain_http_request_duration_seconds",
                {{"server", view(v.route->server)}, {"route", view(v.route->route)}}, bounds.data(),
                v.snapshot.duration_counts, bounds.size(),
                static_cast<double>(v.snapshot.duration_sum_us) / 1e6);
  }

  w.family("captain_http_upstream_response_seconds", MetricType::histogram,
           "Time spent in upstreams, for requests that went to one.");
  for (const RouteView& v : routes) {
    const std::vector<double> bounds = bounds_of(v.zone);
    w.histogram("captain_http_upstream_response_seconds",
                {{"server", view(v.route->server)}, {"route", view(v.route->route)}}, bounds.data(),
                v.snapshot.upstream_counts, bounds.size(),
                static_cast<double>(v.snapshot.upstream_sum_us) / 1e6);
  }

  w.family("captain_http_response_bytes_total", MetricType::counter,
           "Bytes sent to clients, headers included.");
  for (const RouteView& v : routes) {
    w.sample("captain_http_response_bytes_total",
             {{"server", view(v.route->server)}, {"route", view(v.route->route)}},
             v.snapshot.response_bytes);
  }
}

void write_rate_limits(TextWriter& w, const MainConf& mcf) {
  auto** zones = static_cast<LimitZone**>(mcf.limit_zones->elts);
  const ngx_uint_t count = mcf.limit_zones->nelts;
  static constexpr std::string_view kDecisions[] = {"passed", "rejected", "dry_run", "bypass"};

  w.family("captain_ratelimit_requests_total", MetricType::counter,
           "Rate-limit decisions by zone.");
  for (ngx_uint_t i = 0; i < count; ++i) {
    if (!zones[i]->table.valid()) continue;
    const rate_limit::ZoneCounters c = zones[i]->table.counters();
    for (std::size_t d = 0; d < rate_limit::kOutcomeCount; ++d) {
      w.sample("captain_ratelimit_requests_total",
               {{"zone", view(zones[i]->name)}, {"decision", kDecisions[d]}}, c.outcomes[d]);
    }
  }
  w.family("captain_ratelimit_keys", MetricType::gauge,
           "Keys that still hold rate-limit state (a restart would forget them).");
  for (ngx_uint_t i = 0; i < count; ++i) {
    if (!zones[i]->table.valid()) continue;
    w.sample("captain_ratelimit_keys", {{"zone", view(zones[i]->name)}},
             zones[i]->table.live_keys(ngx_current_msec));
  }
  w.family("captain_ratelimit_evictions_total", MetricType::counter,
           "Keys that still held state, pushed out of a full zone.");
  for (ngx_uint_t i = 0; i < count; ++i) {
    if (!zones[i]->table.valid()) continue;
    w.sample("captain_ratelimit_evictions_total", {{"zone", view(zones[i]->name)}},
             zones[i]->table.counters().evictions);
  }
}

std::string render(ngx_http_request_t* r) {
  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_captain_module));
  std::vector<RouteView> routes;
  auto** zones = static_cast<MetricsZone**>(mcf->metrics_zones->elts);
  for (ngx_uint_t z = 0; z < mcf->metrics_zones->nelts; ++z) {
    if (!zones[z]->table.valid()) continue;
    auto** entries = static_cast<MetricsRoute**>(zones[z]->routes->elts);
    for (ngx_uint_t i = 0; i < zones[z]->routes->nelts; ++i) {
      routes.push_back(RouteView{zones[z], entries[i], zones[z]->table.snapshot(entries[i]->slot)});
    }
  }

  std::string out;
  TextWriter w(out);
  write_build_info(w);
  write_connections(w);
  write_routes(w, routes);
  write_rate_limits(w, *mcf);
  return out;
}

ngx_int_t send_text(ngx_http_request_t* r, const std::string& text) noexcept {
  r->headers_out.status = NGX_HTTP_OK;
  r->headers_out.content_type = kContentType;
  r->headers_out.content_type_len = kContentType.len;
  r->headers_out.content_length_n = static_cast<off_t>(text.size());
  ngx_int_t rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;

  auto* data = static_cast<u_char*>(ngx_pnalloc(r->pool, text.size() + 1));
  auto* buf = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
  if (data == nullptr || buf == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  ngx_memcpy(data, text.data(), text.size());
  buf->pos = data;
  buf->last = data + text.size();
  buf->memory = 1;
  buf->last_buf = (r == r->main) ? 1 : 0;
  buf->last_in_chain = 1;
  ngx_chain_t out{buf, nullptr};
  return ngx_http_output_filter(r, &out);
}

}  // namespace

ngx_int_t status_handler(ngx_http_request_t* r) noexcept {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  if (!authorized(r, loc_conf(r)->status_token)) {
    ngx_table_elt_t* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
    if (h == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    *h = ngx_table_elt_t{};
    h->hash = 1;
    h->key = kWwwAuthenticate;
    h->value = kBearerChallenge;
    return NGX_HTTP_UNAUTHORIZED;
  }

  try {
    // Scrape time, not the request path: the text is built with the C++ heap, then copied into
    // the request pool.
    const std::string text = render(r);
    return send_text(r, text);
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "captain_status: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

}  // namespace captain::glue
