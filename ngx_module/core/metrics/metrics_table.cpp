// The shared-memory metrics table: layout, route binding at (re)load, recording and scraping.
#include "ngx_module/core/metrics/metrics_table.h"

#include <cstring>
#include <new>

namespace captain::metrics {

namespace {

// The table lives in memory shared by nginx worker processes: an atomic that needs a lock
// would take a lock private to one process and protect nothing.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "counters must be lock-free 64-bit atomics");
static_assert(sizeof(std::atomic<std::uint64_t>) == sizeof(std::uint64_t),
              "counters must be plain 64-bit words in shared memory");
static_assert(sizeof(RouteCounters) % 64 == 0 && sizeof(RouteEntry) % 64 == 0 &&
                  sizeof(MetricsHeader) % 64 == 0,
              "every block starts on its own cache line");
static_assert(kRouteNameBytes <= 0xffff, "name lengths are stored in 16 bits");

constexpr std::size_t kBytesPerRoute = sizeof(RouteEntry) + kMetricStripes * sizeof(RouteCounters);
// Slots are uint32 and kNoRouteSlot is reserved.
constexpr std::size_t kMaxRouteCapacity = kNoRouteSlot - 1;

bool is_aligned(const void* memory) {
  return reinterpret_cast<std::uintptr_t>(memory) % alignof(MetricsHeader) == 0;
}

bool buckets_are_usable(const Buckets& buckets) {
  return buckets.count <= kMaxBuckets;
}

void store_zero(std::atomic<std::uint64_t>& word) {
  word.store(0, std::memory_order_relaxed);
}

void zero_counters(RouteCounters& block) {
  for (auto& by_method : block.requests) {
    for (auto& word : by_method) store_zero(word);
  }
  for (auto& word : block.duration_counts) store_zero(word);
  store_zero(block.duration_sum_us);
  for (auto& word : block.upstream_counts) store_zero(word);
  store_zero(block.upstream_sum_us);
  store_zero(block.upstream_count);
  store_zero(block.response_bytes);
}

void add(std::atomic<std::uint64_t>& word, std::uint64_t amount) {
  word.fetch_add(amount, std::memory_order_relaxed);
}

std::uint64_t load(const std::atomic<std::uint64_t>& word) {
  return word.load(std::memory_order_relaxed);
}

bool entry_has_name(const RouteEntry& entry, const RouteName& name) {
  return entry.server_length == name.server.size() && entry.route_length == name.route.size() &&
         std::string_view(entry.text, entry.server_length) == name.server &&
         std::string_view(entry.text + entry.server_length, entry.route_length) == name.route;
}

bool same_name(const RouteName& a, const RouteName& b) {
  return a.server == b.server && a.route == b.route;
}

void write_name(RouteEntry& entry, const RouteName& name) {
  std::memset(entry.text, 0, sizeof(entry.text));
  std::memcpy(entry.text, name.server.data(), name.server.size());
  std::memcpy(entry.text + name.server.size(), name.route.data(), name.route.size());
  entry.server_length = static_cast<std::uint16_t>(name.server.size());
  entry.route_length = static_cast<std::uint16_t>(name.route.size());
}

// Directory states; kKept only exists while bind_routes runs.
constexpr std::uint32_t kFree = 0;
constexpr std::uint32_t kInUse = 1;
constexpr std::uint32_t kKept = 2;

}  // namespace

std::size_t MetricsTable::bytes_needed(std::size_t route_capacity) {
  return sizeof(MetricsHeader) + route_capacity * kBytesPerRoute;
}

std::size_t MetricsTable::route_capacity_for(std::size_t bytes) {
  if (bytes < sizeof(MetricsHeader)) return 0;
  const std::size_t capacity = (bytes - sizeof(MetricsHeader)) / kBytesPerRoute;
  return capacity < kMaxRouteCapacity ? capacity : kMaxRouteCapacity;
}

bool MetricsTable::name_fits(const RouteName& name) {
  return name.server.size() <= kRouteNameBytes &&
         name.route.size() <= kRouteNameBytes - name.server.size();
}

MetricsTable MetricsTable::create(void* memory, std::size_t bytes, const Buckets& buckets) {
  const std::size_t capacity = route_capacity_for(bytes);
  if (memory == nullptr || capacity == 0 || !is_aligned(memory) || !buckets_are_usable(buckets)) {
    return MetricsTable();
  }
  auto* header = new (memory) MetricsHeader;
  header->magic = kMetricsZoneMagic;
  header->layout_version = kMetricsLayoutVersion;
  header->stripe_count = kMetricStripes;
  header->route_capacity = capacity;
  header->buckets = buckets;
  MetricsTable table(header);
  RouteEntry* const directory = table.entries();
  for (std::size_t slot = 0; slot < capacity; ++slot) {
    RouteEntry* entry = new (&directory[slot]) RouteEntry;
    entry->in_use = kFree;
    entry->server_length = 0;
    entry->route_length = 0;
    std::memset(entry->text, 0, sizeof(entry->text));
  }
  for (std::size_t stripe = 0; stripe < kMetricStripes; ++stripe) {
    for (std::size_t slot = 0; slot < capacity; ++slot) {
      zero_counters(*new (table.counters(stripe, slot)) RouteCounters);
    }
  }
  // Publishes the formatted table to whatever hands `memory` to another thread or process.
  std::atomic_thread_fence(std::memory_order_release);
  return table;
}

MetricsTable MetricsTable::attach(void* memory, std::size_t bytes) {
  const std::size_t capacity = route_capacity_for(bytes);
  if (memory == nullptr || capacity == 0 || !is_aligned(memory)) return MetricsTable();
  std::atomic_thread_fence(std::memory_order_acquire);
  auto* header = std::launder(static_cast<MetricsHeader*>(memory));
  if (header->magic != kMetricsZoneMagic || header->layout_version != kMetricsLayoutVersion ||
      header->stripe_count != kMetricStripes || header->route_capacity != capacity ||
      !buckets_are_usable(header->buckets)) {
    return MetricsTable();
  }
  return MetricsTable(header);
}

std::size_t MetricsTable::route_capacity() const {
  return static_cast<std::size_t>(header_->route_capacity);
}

const Buckets& MetricsTable::buckets() const {
  return header_->buckets;
}

bool MetricsTable::same_buckets(const Buckets& buckets) const {
  const Buckets& stored = header_->buckets;
  if (stored.count != buckets.count) return false;
  for (std::size_t i = 0; i < stored.count; ++i) {
    if (stored.bounds_us[i] != buckets.bounds_us[i]) return false;
  }
  return true;
}

RouteEntry* MetricsTable::entries() const {
  return reinterpret_cast<RouteEntry*>(reinterpret_cast<unsigned char*>(header_) +
                                       sizeof(MetricsHeader));
}

// Stripe-major: a worker's blocks are together, and each block is one route's counters.
RouteCounters* MetricsTable::counters(std::size_t stripe, std::size_t slot) const {
  auto* first = reinterpret_cast<RouteCounters*>(reinterpret_cast<unsigned char*>(entries()) +
                                                 route_capacity() * sizeof(RouteEntry));
  return first + stripe * route_capacity() + slot;
}

void MetricsTable::zero_slot(std::size_t slot) {
  for (std::size_t stripe = 0; stripe < kMetricStripes; ++stripe) {
    zero_counters(*counters(stripe, slot));
  }
}

bool MetricsTable::bind_routes(const RouteName* names, std::size_t count,
                               std::uint32_t* slots_out) {
  const std::size_t capacity = route_capacity();
  RouteEntry* const directory = entries();
  for (std::size_t i = 0; i < count; ++i) {
    if (!name_fits(names[i])) return false;
  }

  // Pass 1: names already in the directory keep their slots (marked kKept for now).
  std::size_t new_names = 0;
  for (std::size_t i = 0; i < count; ++i) {
    slots_out[i] = kNoRouteSlot;
    for (std::size_t slot = 0; slot < capacity; ++slot) {
      if (directory[slot].in_use != kFree && entry_has_name(directory[slot], names[i])) {
        directory[slot].in_use = kKept;
        slots_out[i] = static_cast<std::uint32_t>(slot);
        break;
      }
    }
    if (slots_out[i] != kNoRouteSlot) continue;
    bool repeats_earlier_new_name = false;
    for (std::size_t j = 0; j < i && !repeats_earlier_new_name; ++j) {
      repeats_earlier_new_name = slots_out[j] == kNoRouteSlot && same_name(names[j], names[i]);
    }
    if (!repeats_earlier_new_name) ++new_names;
  }

  std::size_t available = 0;
  for (std::size_t slot = 0; slot < capacity; ++slot) {
    if (directory[slot].in_use != kKept) ++available;
  }
  if (new_names > available) {
    // Leaves the directory as it was: the running configuration keeps its series.
    for (std::size_t slot = 0; slot < capacity; ++slot) {
      if (directory[slot].in_use == kKept) directory[slot].in_use = kInUse;
    }
    return false;
  }

  // Pass 2: new names take slots that were free before this call first, then slots whose
  // names are no longer wanted, so old workers' last counts land in a route that is gone only
  // when there is no other room.
  std::size_t next_never_used = 0;
  std::size_t next_released = 0;
  auto take_slot = [&]() -> std::size_t {
    for (; next_never_used < capacity; ++next_never_used) {
      if (directory[next_never_used].in_use == kFree) return next_never_used++;
    }
    for (; next_released < capacity; ++next_released) {
      if (directory[next_released].in_use == kInUse) return next_released++;
    }
    return capacity;  // unreachable: counted above
  };
  for (std::size_t i = 0; i < count; ++i) {
    if (slots_out[i] != kNoRouteSlot) continue;
    std::uint32_t shared_slot = kNoRouteSlot;
    for (std::size_t j = 0; j < i && shared_slot == kNoRouteSlot; ++j) {
      if (same_name(names[j], names[i])) shared_slot = slots_out[j];
    }
    if (shared_slot != kNoRouteSlot) {
      slots_out[i] = shared_slot;
      continue;
    }
    const std::size_t slot = take_slot();
    zero_slot(slot);
    write_name(directory[slot], names[i]);
    directory[slot].in_use = kKept;
    slots_out[i] = static_cast<std::uint32_t>(slot);
  }

  // Whatever is not kept now is unwanted: free it; kept slots are simply in use again.
  for (std::size_t slot = 0; slot < capacity; ++slot) {
    directory[slot].in_use = directory[slot].in_use == kKept ? kInUse : kFree;
  }
  return true;
}

void MetricsTable::record(std::size_t stripe, std::uint32_t slot, std::size_t method_index,
                          std::size_t status_index, std::uint64_t duration_us, bool has_upstream,
                          std::uint64_t upstream_us, std::uint64_t bytes_sent) {
  if (slot >= route_capacity() || method_index >= kMethodCount || status_index >= kStatusCount) {
    return;
  }
  RouteCounters& block = *counters(stripe % kMetricStripes, slot);
  const Buckets& bounds = header_->buckets;
  add(block.requests[method_index][status_index], 1);
  add(block.duration_counts[bucket_index(bounds, duration_us)], 1);
  add(block.duration_sum_us, duration_us);
  if (has_upstream) {
    add(block.upstream_counts[bucket_index(bounds, upstream_us)], 1);
    add(block.upstream_sum_us, upstream_us);
    add(block.upstream_count, 1);
  }
  add(block.response_bytes, bytes_sent);
}

std::size_t MetricsTable::route_count() const {
  std::size_t in_use = 0;
  const RouteEntry* const directory = entries();
  for (std::size_t slot = 0; slot < route_capacity(); ++slot) {
    if (directory[slot].in_use == kInUse) ++in_use;
  }
  return in_use;
}

bool MetricsTable::route_name(std::uint32_t slot, RouteName* out) const {
  if (slot >= route_capacity()) return false;
  const RouteEntry& entry = entries()[slot];
  if (entry.in_use != kInUse) return false;
  out->server = std::string_view(entry.text, entry.server_length);
  out->route = std::string_view(entry.text + entry.server_length, entry.route_length);
  return true;
}

RouteSnapshot MetricsTable::snapshot(std::uint32_t slot) const {
  RouteSnapshot sum;
  if (slot >= route_capacity()) return sum;
  for (std::size_t stripe = 0; stripe < kMetricStripes; ++stripe) {
    const RouteCounters& block = *counters(stripe, slot);
    for (std::size_t method = 0; method < kMethodCount; ++method) {
      for (std::size_t status = 0; status < kStatusCount; ++status) {
        sum.requests[method][status] += load(block.requests[method][status]);
      }
    }
    for (std::size_t bucket = 0; bucket < kHistogramCounts; ++bucket) {
      sum.duration_counts[bucket] += load(block.duration_counts[bucket]);
      sum.upstream_counts[bucket] += load(block.upstream_counts[bucket]);
    }
    sum.duration_sum_us += load(block.duration_sum_us);
    sum.upstream_sum_us += load(block.upstream_sum_us);
    sum.upstream_count += load(block.upstream_count);
    sum.response_bytes += load(block.response_bytes);
  }
  return sum;
}

}  // namespace captain::metrics
