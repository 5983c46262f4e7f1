#include "ngx_module/glue/status_handler.h"

#include <string>

#include "ngx_module/core/cache/cache_key.h"
#include "ngx_module/core/metrics/status_report.h"
#include "ngx_module/glue/cache_conf.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/metrics_conf.h"
#include "ngx_module/glue/rate_limit_conf.h"
#include "ngx_module/glue/trace_export.h"
#include "ngx_module/glue/version.h"

namespace captain::glue {

namespace {

const ngx_str_t kPrometheusType = ngx_string("text/plain; version=0.0.4; charset=utf-8");
const ngx_str_t kJsonType = ngx_string("application/json");
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

std::string text_of(const ngx_str_t& s) {
  return std::string(to_view(s));
}

// Copies every counter the status page shows out of shared memory (sums over the workers).
// `verify`: also check every zone's structure (a full scan of each, for tests and operators).
metrics::StatusReport collect(ngx_http_request_t* r, bool verify) {
  metrics::StatusReport report;
  report.version = kModuleVersion;
  report.nginx_release = NGINX_VERSION;
#if (NGX_STAT_STUB)
  report.has_connections = true;
  report.connections.active = static_cast<std::uint64_t>(*ngx_stat_active);
  report.connections.reading = static_cast<std::uint64_t>(*ngx_stat_reading);
  report.connections.writing = static_cast<std::uint64_t>(*ngx_stat_writing);
  const std::uint64_t busy = report.connections.reading + report.connections.writing;
  report.connections.waiting =
      report.connections.active > busy ? report.connections.active - busy : 0;
#endif

  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_captain_module));
  auto** zones = static_cast<MetricsZone**>(mcf->metrics_zones->elts);
  for (ngx_uint_t z = 0; z < mcf->metrics_zones->nelts; ++z) {
    if (!zones[z]->table.valid()) continue;
    auto** entries = static_cast<MetricsRoute**>(zones[z]->routes->elts);
    for (ngx_uint_t i = 0; i < zones[z]->routes->nelts; ++i) {
      report.routes.push_back(metrics::RouteReport{
          text_of(zones[z]->name), text_of(entries[i]->server), text_of(entries[i]->route),
          zones[z]->buckets, zones[z]->table.snapshot(entries[i]->slot)});
    }
  }

  auto** limits = static_cast<LimitZone**>(mcf->limit_zones->elts);
  for (ngx_uint_t i = 0; i < mcf->limit_zones->nelts; ++i) {
    if (!limits[i]->table.valid()) continue;
    const rate_limit::ZoneCounters c = limits[i]->table.counters();
    metrics::LimitReport l;
    l.zone = text_of(limits[i]->name);
    for (std::size_t d = 0; d < metrics::kLimitDecisionCount; ++d) l.decisions[d] = c.outcomes[d];
    l.keys = limits[i]->table.live_keys(ngx_current_msec);
    l.evictions = c.evictions;
    if (verify) l.verified = limits[i]->table.verify();
    report.limits.push_back(std::move(l));
  }

  auto** caches = static_cast<CacheZone**>(mcf->cache_zones->elts);
  for (ngx_uint_t i = 0; i < mcf->cache_zones->nelts; ++i) {
    if (!caches[i]->store.valid()) continue;
    const cache::StoreStats s = caches[i]->store.stats();
    metrics::CacheReport c;
    c.zone = text_of(caches[i]->name);
    static_assert(metrics::kCacheStatusCount == cache::kOutcomeCount);
    for (std::size_t o = 0; o < cache::kOutcomeCount; ++o) c.requests[o] = s.outcomes[o];
    c.bytes = s.stored_bytes;
    c.entries = s.entries;
    c.evictions = s.evictions;
    c.stores = s.stores;
    c.purged = s.purged;
    c.lock_recoveries = s.lock_recoveries;
    c.formats = s.formats;
    c.lock_timeouts = s.lock_timeouts;
    c.reservations_reclaimed = s.reservations_reclaimed;
    if (verify) c.verified = caches[i]->store.verify();
    report.caches.push_back(std::move(c));
  }
  trace_export::ExportTotals totals;
  if (trace_export_totals(r, &totals)) report.trace_export = totals;
  return report;
}

ngx_int_t send_text(ngx_http_request_t* r, const ngx_str_t& type,
                    const std::string& text) noexcept {
  r->headers_out.status = NGX_HTTP_OK;
  r->headers_out.content_type = type;
  r->headers_out.content_type_len = type.len;
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

bool is_purge(ngx_http_request_t* r) noexcept {
  return (r->method & NGX_HTTP_DELETE) != 0 || to_view(r->method_name) == "PURGE";
}

// A query argument, percent-decoded into the request pool; false when absent.
bool query_arg(ngx_http_request_t* r, const char* name, ngx_str_t* out, bool* failed) noexcept {
  ngx_str_t raw;
  if (ngx_http_arg(r, reinterpret_cast<u_char*>(const_cast<char*>(name)), ngx_strlen(name), &raw) !=
      NGX_OK) {
    return false;
  }
  auto* data = static_cast<u_char*>(ngx_pnalloc(r->pool, raw.len + 1));
  if (data == nullptr) {
    *failed = true;
    return false;
  }
  u_char* dst = data;
  u_char* src = raw.data;
  ngx_unescape_uri(&dst, &src, raw.len, 0);
  *out = ngx_str_t{static_cast<size_t>(dst - data), data};
  return true;
}

// DELETE (or PURGE) <status location>?key=<key> | ?prefix=<prefix> | ?all=1, optionally
// &zone=<name>: removes cache entries and answers {"purged":N}. An exact key also takes its
// Accept-Encoding variants (cache_key.h).
ngx_int_t purge(ngx_http_request_t* r) noexcept {
  ngx_str_t key{0, nullptr};
  ngx_str_t prefix{0, nullptr};
  ngx_str_t all{0, nullptr};
  ngx_str_t zone_name{0, nullptr};
  bool failed = false;
  const bool has_key = query_arg(r, "key", &key, &failed);
  const bool has_prefix = query_arg(r, "prefix", &prefix, &failed);
  const bool has_all = query_arg(r, "all", &all, &failed) && to_view(all) == "1";
  const bool has_zone = query_arg(r, "zone", &zone_name, &failed);
  if (failed) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  // An empty key or prefix would match everything: ?all=1 says that on purpose.
  if (int{has_key} + int{has_prefix} + int{has_all} != 1 || (has_key && key.len == 0) ||
      (has_prefix && prefix.len == 0)) {
    return NGX_HTTP_BAD_REQUEST;
  }

  std::string variants;
  try {
    if (has_key) variants = std::string(to_view(key)) + cache::kVariantSeparator;
  } catch (...) {
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }

  auto* mcf = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_captain_module));
  auto** caches = static_cast<CacheZone**>(mcf->cache_zones->elts);
  std::uint64_t purged = 0;
  bool zone_found = false;
  for (ngx_uint_t i = 0; i < mcf->cache_zones->nelts; ++i) {
    CacheZone* zone = caches[i];
    if (has_zone && to_view(zone->name) != to_view(zone_name)) continue;
    zone_found = true;
    if (!zone->store.valid()) continue;
    if (has_all) {
      purged += zone->store.purge_all();
    } else if (has_prefix) {
      purged += zone->store.purge_prefix(to_view(prefix));
    } else {
      purged += zone->store.purge_exact(to_view(key)) ? 1 : 0;
      purged += zone->store.purge_prefix(variants);
    }
  }
  if (has_zone && !zone_found) return NGX_HTTP_NOT_FOUND;

  try {
    return send_text(r, kJsonType, "{\"purged\":" + std::to_string(purged) + "}\n");
  } catch (...) {
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

}  // namespace

ngx_int_t status_handler(ngx_http_request_t* r) noexcept {
  const bool purging = is_purge(r);
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD)) && !purging) return NGX_HTTP_NOT_ALLOWED;
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

  if (purging) return purge(r);

  try {
    // Scrape time, not the request path: the text is built with the C++ heap, then copied into
    // the request pool.
    ngx_str_t verify_arg;
    bool failed = false;
    const bool verify = query_arg(r, "verify", &verify_arg, &failed) && to_view(verify_arg) == "1";
    if (failed) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    const metrics::StatusReport report = collect(r, verify);
    if (loc_conf(r)->status_json) return send_text(r, kJsonType, metrics::to_json(report));
    return send_text(r, kPrometheusType, metrics::to_prometheus(report));
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "captain_status: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

}  // namespace captain::glue
