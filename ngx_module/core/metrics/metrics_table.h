// Per-route metrics in one block of shared memory: per-worker counter stripes, no lock, no hashing.
//
// Layout (plain data only, the same in every process):
//   MetricsHeader | RouteEntry[route_capacity] | RouteCounters[kMetricStripes][route_capacity]
// The series set (server x route) is known at configuration time, so the master binds every
// route to a slot before workers start and a request only adds to the counters of its slot in
// its worker's stripe (worker % kMetricStripes). Each RouteCounters block is 64-byte aligned, so
// one worker's counters for one route are contiguous and never share a cache line with another
// stripe's. A scrape sums the stripes. Counters are atomics only because, during a reload, an
// old and a new worker may share a stripe; every add is a relaxed fetch_add.
// A worker killed at any instant: nothing to repair. There is no lock, each add is one atomic
// instruction, and the directory is written only by the master before workers exist; a worker
// killed halfway through logging a request leaves that one request counted in some of its
// counters (its count, not yet its duration bucket), and every counter still only grows.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ngx_module/core/metrics/buckets.h"
#include "ngx_module/core/metrics/series_labels.h"

namespace captain::metrics {

inline constexpr std::uint32_t kMetricsZoneMagic = 0x434d545a;  // "CMTZ"
inline constexpr std::uint32_t kMetricsLayoutVersion = 1;       // bump when any layout changes
inline constexpr std::size_t kMetricStripes = 16;               // worker % 16
// Server and route names together; longer names are refused at configuration time.
inline constexpr std::size_t kRouteNameBytes = 128;
inline constexpr std::uint32_t kNoRouteSlot = 0xffffffff;
// A histogram has one count per bound plus +Inf.
inline constexpr std::size_t kHistogramCounts = kMaxBuckets + 1;

// A series' identity: the server and route label values. In route_name() results the views
// point into the shared memory and stay valid as long as the mapping and the binding do.
struct RouteName {
  std::string_view server;
  std::string_view route;
};

struct alignas(64) MetricsHeader {
  std::uint32_t magic;
  std::uint32_t layout_version;
  std::uint64_t stripe_count;    // kMetricStripes when formatted
  std::uint64_t route_capacity;  // slots in the directory and per stripe
  Buckets buckets;               // a copy, so every process buckets a duration the same way
};

// A directory slot. Only the master writes it (bind_routes, before workers start); workers and
// scrapes only read it.
struct alignas(64) RouteEntry {
  std::uint32_t in_use;
  std::uint16_t server_length;
  std::uint16_t route_length;
  char text[kRouteNameBytes];  // server bytes, then route bytes
};

// One stripe's counters for one route.
struct alignas(64) RouteCounters {
  std::atomic<std::uint64_t> requests[kMethodCount][kStatusCount];
  // Per-bucket (not cumulative) counts; index buckets.count is +Inf.
  std::atomic<std::uint64_t> duration_counts[kHistogramCounts];
  std::atomic<std::uint64_t> duration_sum_us;
  std::atomic<std::uint64_t> upstream_counts[kHistogramCounts];
  std::atomic<std::uint64_t> upstream_sum_us;
  std::atomic<std::uint64_t> upstream_count;
  std::atomic<std::uint64_t> response_bytes;
};

// A route's counters summed over the stripes, as plain numbers for the exposition writer.
// Histogram counts are per bucket; the writer accumulates them into "le" buckets.
struct RouteSnapshot {
  std::uint64_t requests[kMethodCount][kStatusCount] = {};
  std::uint64_t duration_counts[kHistogramCounts] = {};
  std::uint64_t duration_sum_us = 0;
  std::uint64_t upstream_counts[kHistogramCounts] = {};
  std::uint64_t upstream_sum_us = 0;
  std::uint64_t upstream_count = 0;
  std::uint64_t response_bytes = 0;
};

// A view of a metrics zone's memory; cheap to copy, owns nothing.
class MetricsTable {
 public:
  // Shared memory for `route_capacity` routes, to size a zone or report it as too small.
  static std::size_t bytes_needed(std::size_t route_capacity);
  // How many routes a block of `bytes` holds (0 if not even one).
  static std::size_t route_capacity_for(std::size_t bytes);
  // Whether a name fits a directory slot (server and route together at most kRouteNameBytes).
  static bool name_fits(const RouteName& name);

  // Formats `bytes` at `memory` (64-byte aligned) as a table with no routes and these buckets.
  // Returns an invalid table if the memory is misaligned or too small for one route.
  static MetricsTable create(void* memory, std::size_t bytes, const Buckets& buckets);

  // Adopts a table formatted earlier (by create, in any process sharing the memory). Returns an
  // invalid table if the memory holds another magic, layout version or size.
  static MetricsTable attach(void* memory, std::size_t bytes);

  MetricsTable() = default;
  bool valid() const { return header_ != nullptr; }
  std::size_t route_capacity() const;
  const Buckets& buckets() const;
  // The glue formats the zone afresh when the configured buckets differ from the stored ones:
  // old counts cannot be re-bucketed.
  bool same_buckets(const Buckets& buckets) const;

  // Configuration (re)load, in the master before workers start (single-threaded). Gives each
  // wanted name its slot in slots_out[i]: the slot already holding that name (its counters kept),
  // else a free slot, zeroed. Equal names share a slot. Slots whose names are no longer wanted
  // are freed; slots free before this call are reused before those, because old workers still
  // count into freed slots until they exit. Returns false, changing nothing, if a name does not
  // fit or there are not enough slots.
  bool bind_routes(const RouteName* names, std::size_t count, std::uint32_t* slots_out);

  // The request path: adds one finished request to `slot` in `stripe`'s counters. Indexes out of
  // range are ignored rather than trusted, since a bad index would write outside the block.
  void record(std::size_t stripe, std::uint32_t slot, std::size_t method_index,
              std::size_t status_index, std::uint64_t duration_us, bool has_upstream,
              std::uint64_t upstream_us, std::uint64_t bytes_sent);

  // Scrape side. Slots in use, and a slot's name (false if the slot is free or out of range).
  std::size_t route_count() const;
  bool route_name(std::uint32_t slot, RouteName* out) const;
  // `slot`'s counters summed over all stripes (all zero for a slot out of range).
  RouteSnapshot snapshot(std::uint32_t slot) const;

 private:
  explicit MetricsTable(MetricsHeader* header) : header_(header) {}
  RouteEntry* entries() const;
  RouteCounters* counters(std::size_t stripe, std::size_t slot) const;
  void zero_slot(std::size_t slot);

  MetricsHeader* header_ = nullptr;
};

}  // namespace captain::metrics
