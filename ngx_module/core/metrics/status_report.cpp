#include "ngx_module/core/metrics/status_report.h"

#include <nlohmann/json.hpp>

#include "ngx_module/core/metrics/series_labels.h"
#include "shared/metrics/exposition.h"

namespace captain::metrics {

namespace {

std::vector<double> bounds_in_seconds(const Buckets& buckets) {
  std::vector<double> bounds;
  for (std::size_t i = 0; i < buckets.count; ++i) {
    bounds.push_back(static_cast<double>(buckets.bounds_us[i]) / 1e6);
  }
  return bounds;
}

double seconds(std::uint64_t microseconds) {
  return static_cast<double>(microseconds) / 1e6;
}

void write_routes(TextWriter& w, const std::vector<RouteReport>& routes) {
  w.family("captain_http_requests_total", MetricType::counter,
           "Requests by server, route, method and status (exact codes from a fixed set, "
           "otherwise the status class).");
  for (const RouteReport& r : routes) {
    for (std::size_t m = 0; m < kMethodCount; ++m) {
      for (std::size_t s = 0; s < kStatusCount; ++s) {
        const std::uint64_t n = r.counters.requests[m][s];
        if (n == 0) continue;
        w.sample("captain_http_requests_total",
                 {{"server", r.server},
                  {"route", r.route},
                  {"method", method_label(m)},
                  {"status", status_label(s)}},
                 n);
      }
    }
  }

  w.family("captain_http_request_duration_seconds", MetricType::histogram,
           "Time from the first request byte to the log phase.");
  for (const RouteReport& r : routes) {
    const std::vector<double> bounds = bounds_in_seconds(r.buckets);
    w.histogram("captain_http_request_duration_seconds", {{"server", r.server}, {"route", r.route}},
                bounds.data(), r.counters.duration_counts, bounds.size(),
                seconds(r.counters.duration_sum_us));
  }

  w.family("captain_http_upstream_response_seconds", MetricType::histogram,
           "Time spent in upstreams, for requests that went to one.");
  for (const RouteReport& r : routes) {
    const std::vector<double> bounds = bounds_in_seconds(r.buckets);
    w.histogram("captain_http_upstream_response_seconds",
                {{"server", r.server}, {"route", r.route}}, bounds.data(),
                r.counters.upstream_counts, bounds.size(), seconds(r.counters.upstream_sum_us));
  }

  w.family("captain_http_response_bytes_total", MetricType::counter,
           "Bytes sent to clients, headers included.");
  for (const RouteReport& r : routes) {
    w.sample("captain_http_response_bytes_total", {{"server", r.server}, {"route", r.route}},
             r.counters.response_bytes);
  }
}

void write_limits(TextWriter& w, const std::vector<LimitReport>& limits) {
  w.family("captain_ratelimit_requests_total", MetricType::counter,
           "Rate-limit decisions by zone.");
  for (const LimitReport& l : limits) {
    for (std::size_t d = 0; d < kLimitDecisionCount; ++d) {
      w.sample("captain_ratelimit_requests_total",
               {{"zone", l.zone}, {"decision", kLimitDecisions[d]}}, l.decisions[d]);
    }
  }
  w.family("captain_ratelimit_keys", MetricType::gauge,
           "Keys that still hold rate-limit state (a restart would forget them).");
  for (const LimitReport& l : limits) {
    w.sample("captain_ratelimit_keys", {{"zone", l.zone}}, l.keys);
  }
  w.family("captain_ratelimit_evictions_total", MetricType::counter,
           "Keys that still held state, pushed out of a full zone.");
  for (const LimitReport& l : limits) {
    w.sample("captain_ratelimit_evictions_total", {{"zone", l.zone}}, l.evictions);
  }
}

void write_caches(TextWriter& w, const std::vector<CacheReport>& caches) {
  w.family("captain_cache_requests_total", MetricType::counter,
           "Requests to cached locations by zone and cache status.");
  for (const CacheReport& c : caches) {
    for (std::size_t s = 0; s < kCacheStatusCount; ++s) {
      w.sample("captain_cache_requests_total", {{"zone", c.zone}, {"status", kCacheStatuses[s]}},
               c.requests[s]);
    }
  }
  // One series per zone: a family for each per-zone number.
  const auto per_zone = [&](const char* name, MetricType type, const char* help,
                            std::uint64_t CacheReport::*field) {
    w.family(name, type, help);
    for (const CacheReport& c : caches) w.sample(name, {{"zone", c.zone}}, c.*field);
  };
  per_zone("captain_cache_bytes", MetricType::gauge,
           "Bytes of the zone's heap held by live entries, their bookkeeping included.",
           &CacheReport::bytes);
  per_zone("captain_cache_entries", MetricType::gauge, "Live entries in the zone.",
           &CacheReport::entries);
  per_zone("captain_cache_evictions_total", MetricType::counter,
           "Live entries pushed out of a full zone (least recently used first).",
           &CacheReport::evictions);
  per_zone("captain_cache_lock_recoveries_total", MetricType::counter,
           "Times the zone's lock was taken over from a worker that died holding it.",
           &CacheReport::lock_recoveries);
  per_zone("captain_cache_formats_total", MetricType::counter,
           "Takeovers that found the zone half-changed and emptied it.", &CacheReport::formats);
  per_zone("captain_cache_lock_timeouts_total", MetricType::counter,
           "Operations that gave up waiting for the zone's lock (the request skipped the cache).",
           &CacheReport::lock_timeouts);
  per_zone("captain_cache_reservations_reclaimed_total", MetricType::counter,
           "Entries being stored by workers that died, freed.",
           &CacheReport::reservations_reclaimed);
}

void write_trace_export(TextWriter& w, const trace_export::ExportTotals& t) {
  w.family("captain_trace_spans_queued_total", MetricType::counter,
           "Sampled request spans queued for export by the workers.");
  w.sample("captain_trace_spans_queued_total", {}, t.queued);
  w.family("captain_trace_spans_exported_total", MetricType::counter,
           "Spans the OTLP collector accepted.");
  w.sample("captain_trace_spans_exported_total", {}, t.exported);
  w.family("captain_trace_spans_dropped_total", MetricType::counter,
           "Spans lost: the worker's queue was full, or the batch holding them failed.");
  w.sample("captain_trace_spans_dropped_total", {{"reason", "queue_full"}}, t.dropped_queue_full);
  w.sample("captain_trace_spans_dropped_total", {{"reason", "export_failed"}}, t.dropped_export);
  w.family("captain_trace_export_requests_total", MetricType::counter,
           "OTLP/HTTP export requests by result (failure: refused, unreachable, timed out, "
           "non-2xx).");
  w.sample("captain_trace_export_requests_total", {{"result", "success"}}, t.requests_ok);
  w.sample("captain_trace_export_requests_total", {{"result", "failure"}}, t.requests_failed);
  w.family("captain_trace_queue_spans", MetricType::gauge,
           "Spans queued in the workers or in a batch being sent.");
  w.sample("captain_trace_queue_spans", {}, t.in_queue());
}

nlohmann::json histogram_json(const Buckets& buckets, const std::uint64_t* counts,
                              std::uint64_t sum_us) {
  nlohmann::json out;
  nlohmann::json list = nlohmann::json::array();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= buckets.count; ++i) {
    cumulative += counts[i];
    list.push_back({{"le", i < buckets.count ? bound_label(buckets.bounds_us[i]) : "+Inf"},
                    {"count", cumulative}});
  }
  out["buckets"] = std::move(list);
  out["sum"] = seconds(sum_us);
  out["count"] = cumulative;
  return out;
}

}  // namespace

std::string to_prometheus(const StatusReport& report) {
  std::string out;
  TextWriter w(out);
  w.family("captain_build_info", MetricType::gauge,
           "Build of ngx_http_captain_module and the nginx it runs in.");
  w.sample("captain_build_info", {{"version", report.version}, {"nginx", report.nginx_release}},
           std::uint64_t{1});
  if (report.has_connections) {
    w.family("captain_http_connections", MetricType::gauge, "Client connections by state.");
    const ConnectionReport& c = report.connections;
    w.sample("captain_http_connections", {{"state", "active"}}, c.active);
    w.sample("captain_http_connections", {{"state", "reading"}}, c.reading);
    w.sample("captain_http_connections", {{"state", "writing"}}, c.writing);
    w.sample("captain_http_connections", {{"state", "waiting"}}, c.waiting);
  }
  write_routes(w, report.routes);
  write_limits(w, report.limits);
  write_caches(w, report.caches);
  if (report.trace_export) write_trace_export(w, *report.trace_export);
  return out;
}

std::string to_json(const StatusReport& report) {
  nlohmann::json out;
  out["build"] = {{"version", report.version}, {"nginx", report.nginx_release}};
  if (report.has_connections) {
    const ConnectionReport& c = report.connections;
    out["connections"] = {{"active", c.active},
                          {"reading", c.reading},
                          {"writing", c.writing},
                          {"waiting", c.waiting}};
  }
  nlohmann::json routes = nlohmann::json::array();
  for (const RouteReport& r : report.routes) {
    nlohmann::json requests = nlohmann::json::array();
    for (std::size_t m = 0; m < kMethodCount; ++m) {
      for (std::size_t s = 0; s < kStatusCount; ++s) {
        const std::uint64_t n = r.counters.requests[m][s];
        if (n == 0) continue;
        requests.push_back({{"method", std::string(method_label(m))},
                            {"status", std::string(status_label(s))},
                            {"count", n}});
      }
    }
    routes.push_back(
        {{"zone", r.zone},
         {"server", r.server},
         {"route", r.route},
         {"requests", std::move(requests)},
         {"request_duration_seconds",
          histogram_json(r.buckets, r.counters.duration_counts, r.counters.duration_sum_us)},
         {"upstream_response_seconds",
          histogram_json(r.buckets, r.counters.upstream_counts, r.counters.upstream_sum_us)},
         {"response_bytes", r.counters.response_bytes}});
  }
  out["routes"] = std::move(routes);
  nlohmann::json limits = nlohmann::json::array();
  for (const LimitReport& l : report.limits) {
    nlohmann::json decisions;
    for (std::size_t d = 0; d < kLimitDecisionCount; ++d)
      decisions[kLimitDecisions[d]] = l.decisions[d];
    nlohmann::json limit = {{"zone", l.zone},
                            {"decisions", std::move(decisions)},
                            {"keys", l.keys},
                            {"evictions", l.evictions}};
    if (l.verified) limit["verified"] = *l.verified;
    limits.push_back(std::move(limit));
  }
  out["ratelimit"] = std::move(limits);
  nlohmann::json caches = nlohmann::json::array();
  for (const CacheReport& c : report.caches) {
    nlohmann::json requests;
    for (std::size_t s = 0; s < kCacheStatusCount; ++s) requests[kCacheStatuses[s]] = c.requests[s];
    nlohmann::json cache = {{"zone", c.zone},
                            {"requests", std::move(requests)},
                            {"bytes", c.bytes},
                            {"entries", c.entries},
                            {"evictions", c.evictions},
                            {"stores", c.stores},
                            {"purged", c.purged},
                            {"lock_recoveries", c.lock_recoveries},
                            {"formats", c.formats},
                            {"lock_timeouts", c.lock_timeouts},
                            {"reservations_reclaimed", c.reservations_reclaimed}};
    if (c.verified) cache["verified"] = *c.verified;
    caches.push_back(std::move(cache));
  }
  out["cache"] = std::move(caches);
  if (const auto& t = report.trace_export) {
    out["trace_export"] = {{"queued", t->queued},
                           {"exported", t->exported},
                           {"dropped_queue_full", t->dropped_queue_full},
                           {"dropped_export_failed", t->dropped_export},
                           {"requests_ok", t->requests_ok},
                           {"requests_failed", t->requests_failed},
                           {"in_queue", t->in_queue()}};
  }
  // Invalid UTF-8 in a label (a route= from nginx.conf) is replaced rather than thrown on.
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace captain::metrics
