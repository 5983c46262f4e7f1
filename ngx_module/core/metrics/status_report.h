// What captain_status reports, as plain data, and its two renderings: Prometheus text 0.0.4 and
// JSON. The glue fills a StatusReport from the shared-memory zones; nothing here knows nginx.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ngx_module/core/metrics/buckets.h"
#include "ngx_module/core/metrics/metrics_table.h"
#include "ngx_module/core/trace_export/export_counters.h"

namespace captain::metrics {

struct RouteReport {
  std::string zone;
  std::string server;
  std::string route;
  Buckets buckets;
  RouteSnapshot counters;
};

inline constexpr std::size_t kLimitDecisionCount = 4;
inline constexpr const char* kLimitDecisions[kLimitDecisionCount] = {"passed", "rejected",
                                                                     "dry_run", "bypass"};

struct LimitReport {
  std::string zone;
  std::uint64_t decisions[kLimitDecisionCount] = {};
  std::uint64_t keys = 0;
  std::uint64_t evictions = 0;
  std::optional<bool> verified;  // only when the scrape asked (?verify=1)
};

inline constexpr std::size_t kCacheStatusCount = 5;
// In the order of cache::Outcome.
inline constexpr const char* kCacheStatuses[kCacheStatusCount] = {"hit", "miss", "bypass",
                                                                  "expired", "stale"};

struct CacheReport {
  std::string zone;
  std::uint64_t requests[kCacheStatusCount] = {};
  std::uint64_t bytes = 0;    // stored entries' blocks, headers included
  std::uint64_t entries = 0;  // live entries
  std::uint64_t evictions = 0;
  std::uint64_t stores = 0;
  std::uint64_t purged = 0;
  // The zone's lock (cache_store.h): taken over from dead workers, of those the takeovers that
  // found damage and emptied the zone, waits given up on a live holder, dead writers'
  // reservations freed.
  std::uint64_t lock_recoveries = 0;
  std::uint64_t formats = 0;
  std::uint64_t lock_timeouts = 0;
  std::uint64_t reservations_reclaimed = 0;
  std::optional<bool> verified;  // only when the scrape asked (?verify=1)
};

struct ConnectionReport {
  std::uint64_t active = 0;
  std::uint64_t reading = 0;
  std::uint64_t writing = 0;
  std::uint64_t waiting = 0;
};

struct StatusReport {
  std::string version;
  std::string nginx_release;
  bool has_connections = false;
  ConnectionReport connections;
  std::vector<RouteReport> routes;
  std::vector<LimitReport> limits;
  std::vector<CacheReport> caches;
  std::optional<trace_export::ExportTotals> trace_export;  // when captain_trace_export is set
};

// Prometheus text exposition format 0.0.4 (every family with HELP and TYPE; request series only
// where the count is not zero).
std::string to_prometheus(const StatusReport& report);

// The same numbers as JSON: histogram buckets cumulative with "le" as in Prometheus.
std::string to_json(const StatusReport& report);

}  // namespace captain::metrics
