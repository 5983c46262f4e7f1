// What the workers' span exporters have done, in the "captain_trace_export" shared-memory
// zone, for the status endpoint.
//
// Layout: one 64-byte WorkerExportCounters per worker slot (ngx_worker; workers beyond the
// table share the last slot), each a set of monotonic counters. A worker's event-loop thread
// adds to `queued` / `dropped_queue_full`; its export thread to the rest. Only relaxed atomic
// adds, no lock: a worker dying at any instant leaves every counter valid (its queued spans
// then never reach exported or dropped, so "in queue" = queued − exported − dropped_export
// counts them until the zone is recreated). The zone survives reloads, so the totals do too;
// the old and new worker of one slot adding at once during a reload is fine for atomic adds.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace captain::trace_export {

inline constexpr std::uint32_t kCountersLayoutVersion = 1;
inline constexpr std::size_t kMaxWorkerSlots = 1024;  // nginx's NGX_MAX_PROCESSES

struct alignas(64) WorkerExportCounters {
  std::atomic<std::uint64_t> queued;              // spans accepted into the ring
  std::atomic<std::uint64_t> dropped_queue_full;  // spans refused: ring full
  std::atomic<std::uint64_t> exported;            // spans the collector accepted (2xx)
  std::atomic<std::uint64_t> dropped_export;      // spans in batches that failed
  std::atomic<std::uint64_t> requests_ok;         // export requests answered 2xx
  std::atomic<std::uint64_t> requests_failed;     // refused, unreachable, timed out, non-2xx
};
static_assert(sizeof(WorkerExportCounters) == 64);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

struct ExportCountersTable {
  std::uint32_t layout_version;
  std::uint32_t slots;
  WorkerExportCounters workers[kMaxWorkerSlots];

  WorkerExportCounters& slot(std::size_t worker) noexcept {
    return workers[worker < kMaxWorkerSlots ? worker : kMaxWorkerSlots - 1];
  }
};

// The sum over all workers, as the status endpoint reports it.
struct ExportTotals {
  std::uint64_t queued = 0;
  std::uint64_t dropped_queue_full = 0;
  std::uint64_t exported = 0;
  std::uint64_t dropped_export = 0;
  std::uint64_t requests_ok = 0;
  std::uint64_t requests_failed = 0;

  // Spans in workers' rings or in a batch being sent.
  std::uint64_t in_queue() const noexcept {
    const std::uint64_t done = exported + dropped_export;
    return queued > done ? queued - done : 0;
  }
};

inline ExportTotals sum_counters(const ExportCountersTable& table) noexcept {
  ExportTotals t;
  for (const WorkerExportCounters& w : table.workers) {
    t.queued += w.queued.load(std::memory_order_relaxed);
    t.dropped_queue_full += w.dropped_queue_full.load(std::memory_order_relaxed);
    t.exported += w.exported.load(std::memory_order_relaxed);
    t.dropped_export += w.dropped_export.load(std::memory_order_relaxed);
    t.requests_ok += w.requests_ok.load(std::memory_order_relaxed);
    t.requests_failed += w.requests_failed.load(std::memory_order_relaxed);
  }
  return t;
}

}  // namespace captain::trace_export
