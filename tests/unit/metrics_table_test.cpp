// MetricsTable: layout sizing, exact sums from concurrent stripes, attach, and route rebinding.
#include "ngx_module/core/metrics/metrics_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ngx_module/core/metrics/buckets.h"
#include "ngx_module/core/metrics/series_labels.h"

namespace captain::metrics {
namespace {

// Zone memory as nginx hands it out: 64-byte aligned.
struct alignas(64) CacheLine {
  unsigned char bytes[64];
};

class ZoneMemory {
 public:
  explicit ZoneMemory(std::size_t bytes) : lines_((bytes + 63) / 64), bytes_(bytes) {
    std::memset(lines_.data(), 0xa5, lines_.size() * sizeof(CacheLine));  // not pre-zeroed
  }
  void* data() { return lines_.data(); }
  std::size_t size() const { return bytes_; }

 private:
  std::vector<CacheLine> lines_;
  std::size_t bytes_;
};

Buckets default_buckets() {
  Buckets buckets;
  for (std::uint64_t bound : kDefaultBoundsUs) buckets.bounds_us[buckets.count++] = bound;
  return buckets;
}

// Binds `names` and returns their slots, failing the test if binding fails.
std::vector<std::uint32_t> bind(MetricsTable& table, const std::vector<RouteName>& names) {
  std::vector<std::uint32_t> slots(names.size(), kNoRouteSlot);
  EXPECT_TRUE(table.bind_routes(names.data(), names.size(), slots.data()));
  return slots;
}

std::uint64_t total_requests(const RouteSnapshot& snapshot) {
  std::uint64_t total = 0;
  for (const auto& by_method : snapshot.requests) {
    for (std::uint64_t count : by_method) total += count;
  }
  return total;
}

TEST(MetricsTableLayout, BytesNeededAndCapacityAgree) {
  EXPECT_EQ(MetricsTable::route_capacity_for(0), 0u);
  EXPECT_EQ(MetricsTable::route_capacity_for(MetricsTable::bytes_needed(1) - 1), 0u);
  for (std::size_t routes : {1u, 2u, 7u, 100u, 1000u}) {
    const std::size_t bytes = MetricsTable::bytes_needed(routes);
    EXPECT_EQ(MetricsTable::route_capacity_for(bytes), routes);
    EXPECT_EQ(MetricsTable::route_capacity_for(bytes - 1), routes - 1);
    EXPECT_EQ(MetricsTable::route_capacity_for(MetricsTable::bytes_needed(routes + 1) - 1), routes);
  }
  // One worker's counters for one route: whole cache lines, nothing shared between stripes.
  EXPECT_EQ(sizeof(RouteCounters) % 64, 0u);
  EXPECT_EQ(MetricsTable::bytes_needed(2) - MetricsTable::bytes_needed(1),
            sizeof(RouteEntry) + kMetricStripes * sizeof(RouteCounters));
}

TEST(MetricsTableLayout, CreateRejectsBadMemory) {
  ZoneMemory memory(MetricsTable::bytes_needed(4) + 64);
  EXPECT_FALSE(MetricsTable::create(nullptr, memory.size(), default_buckets()).valid());
  EXPECT_FALSE(
      MetricsTable::create(memory.data(), MetricsTable::bytes_needed(1) - 1, default_buckets())
          .valid());
  void* misaligned = static_cast<unsigned char*>(memory.data()) + 8;
  EXPECT_FALSE(
      MetricsTable::create(misaligned, MetricsTable::bytes_needed(4), default_buckets()).valid());
  Buckets too_many = default_buckets();
  too_many.count = kMaxBuckets + 1;
  EXPECT_FALSE(MetricsTable::create(memory.data(), memory.size(), too_many).valid());
  const MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  ASSERT_TRUE(table.valid());
  EXPECT_EQ(table.route_capacity(), 4u);
  EXPECT_EQ(table.route_count(), 0u);
}

TEST(MetricsTable, RecordsFromThreadsSumExactly) {
  ZoneMemory memory(MetricsTable::bytes_needed(8));
  MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  ASSERT_TRUE(table.valid());
  const std::vector<RouteName> names = {{"api.example", "users"}, {"api.example", "orders"}};
  const std::vector<std::uint32_t> slots = bind(table, names);
  ASSERT_NE(slots[0], slots[1]);

  const std::size_t get = method_index("GET");
  const std::size_t post = method_index("POST");
  const std::size_t ok = status_index(200);
  const std::size_t bad_gateway = status_index(502);
  constexpr int kThreads = 8;
  constexpr int kRounds = 5000;
  std::vector<std::thread> workers;
  for (int worker = 0; worker < kThreads; ++worker) {
    workers.emplace_back([&, worker] {
      // Each thread is one worker with its own stripe. Odd threads pass worker + 16, which
      // record() folds onto stripe `worker` as it does for a 17th worker.
      const std::size_t stripe = worker % 2 == 0 ? static_cast<std::size_t>(worker)
                                                 : static_cast<std::size_t>(worker) + 16;
      for (int round = 0; round < kRounds; ++round) {
        // users: GET 200, 3 ms, upstream 2 ms, 100 bytes
        table.record(stripe, slots[0], get, ok, 3'000, true, 2'000, 100);
        // users: POST 502, 20 s (+Inf), upstream 7 ms, 10 bytes
        table.record(stripe, slots[0], post, bad_gateway, 20'000'000, true, 7'000, 10);
        // orders: GET 200, exactly on the 5 ms bound, no upstream, 1 byte
        table.record(stripe, slots[1], get, ok, 5'000, false, 0, 1);
      }
    });
  }
  for (std::thread& thread : workers) thread.join();

  const std::uint64_t per_kind = std::uint64_t{kThreads} * kRounds;
  const std::size_t inf = default_buckets().count;
  const std::size_t le_5ms = bucket_index(default_buckets(), 5'000);
  const std::size_t le_10ms = bucket_index(default_buckets(), 7'000);
  ASSERT_EQ(le_5ms, 0u);
  ASSERT_EQ(le_10ms, 1u);

  const RouteSnapshot users = table.snapshot(slots[0]);
  EXPECT_EQ(users.requests[get][ok], per_kind);
  EXPECT_EQ(users.requests[post][bad_gateway], per_kind);
  EXPECT_EQ(total_requests(users), 2 * per_kind);
  EXPECT_EQ(users.duration_counts[le_5ms], per_kind);
  EXPECT_EQ(users.duration_counts[inf], per_kind);
  EXPECT_EQ(users.duration_sum_us, per_kind * (3'000 + 20'000'000));
  EXPECT_EQ(users.upstream_counts[le_5ms], per_kind);
  EXPECT_EQ(users.upstream_counts[le_10ms], per_kind);
  EXPECT_EQ(users.upstream_sum_us, per_kind * (2'000 + 7'000));
  EXPECT_EQ(users.upstream_count, 2 * per_kind);
  EXPECT_EQ(users.response_bytes, per_kind * 110);
  std::uint64_t histogram_total = 0;
  for (std::uint64_t count : users.duration_counts) histogram_total += count;
  EXPECT_EQ(histogram_total, 2 * per_kind);

  const RouteSnapshot orders = table.snapshot(slots[1]);
  EXPECT_EQ(orders.requests[get][ok], per_kind);
  EXPECT_EQ(total_requests(orders), per_kind);
  EXPECT_EQ(orders.duration_counts[le_5ms], per_kind);
  EXPECT_EQ(orders.duration_sum_us, per_kind * 5'000);
  EXPECT_EQ(orders.upstream_count, 0u);
  EXPECT_EQ(orders.upstream_sum_us, 0u);
  for (std::uint64_t count : orders.upstream_counts) EXPECT_EQ(count, 0u);
  EXPECT_EQ(orders.response_bytes, per_kind);

  // Unbound slots stay at zero.
  EXPECT_EQ(total_requests(table.snapshot(7)), 0u);
}

TEST(MetricsTable, RecordIgnoresIndexesOutOfRange) {
  ZoneMemory memory(MetricsTable::bytes_needed(2));
  MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  const std::vector<std::uint32_t> slots = bind(table, {{"s", "r"}});
  table.record(0, 2, 0, 0, 1, false, 0, 1);             // slot past capacity
  table.record(0, kNoRouteSlot, 0, 0, 1, false, 0, 1);  // no slot
  table.record(0, slots[0], kMethodCount, 0, 1, false, 0, 1);
  table.record(0, slots[0], 0, kStatusCount, 1, false, 0, 1);
  for (std::uint32_t slot = 0; slot < 2; ++slot) {
    const RouteSnapshot snapshot = table.snapshot(slot);
    EXPECT_EQ(total_requests(snapshot), 0u);
    EXPECT_EQ(snapshot.response_bytes, 0u);
  }
  EXPECT_EQ(total_requests(table.snapshot(kNoRouteSlot)), 0u);
}

TEST(MetricsTable, AttachSeesTheSameCountersAndNames) {
  ZoneMemory memory(MetricsTable::bytes_needed(3));
  MetricsTable created = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  const std::vector<std::uint32_t> slots = bind(created, {{"srv", "a"}, {"srv", "b"}});
  created.record(3, slots[1], method_index("PUT"), status_index(404), 42, true, 40, 512);

  MetricsTable attached = MetricsTable::attach(memory.data(), memory.size());
  ASSERT_TRUE(attached.valid());
  EXPECT_TRUE(attached.same_buckets(default_buckets()));
  EXPECT_EQ(attached.route_count(), 2u);
  RouteName name;
  ASSERT_TRUE(attached.route_name(slots[1], &name));
  EXPECT_EQ(name.server, "srv");
  EXPECT_EQ(name.route, "b");
  const RouteSnapshot snapshot = attached.snapshot(slots[1]);
  EXPECT_EQ(snapshot.requests[method_index("PUT")][status_index(404)], 1u);
  EXPECT_EQ(snapshot.duration_sum_us, 42u);
  EXPECT_EQ(snapshot.upstream_sum_us, 40u);
  EXPECT_EQ(snapshot.response_bytes, 512u);

  // Counting through either view lands in the same memory.
  attached.record(5, slots[1], method_index("PUT"), status_index(404), 1, false, 0, 0);
  EXPECT_EQ(created.snapshot(slots[1]).requests[method_index("PUT")][status_index(404)], 2u);
}

TEST(MetricsTable, AttachRejectsWrongMagicVersionOrSize) {
  ZoneMemory memory(MetricsTable::bytes_needed(3));
  ASSERT_TRUE(MetricsTable::create(memory.data(), memory.size(), default_buckets()).valid());
  auto* header = static_cast<MetricsHeader*>(memory.data());

  EXPECT_FALSE(MetricsTable::attach(nullptr, memory.size()).valid());
  // A different zone size means a different capacity, so a different layout.
  EXPECT_FALSE(MetricsTable::attach(memory.data(), MetricsTable::bytes_needed(2)).valid());
  EXPECT_FALSE(MetricsTable::attach(memory.data(), MetricsTable::bytes_needed(1) - 1).valid());
  // Slack below one more route's worth is the same capacity.
  EXPECT_TRUE(MetricsTable::attach(memory.data(), memory.size() + 64).valid());

  header->magic ^= 1;
  EXPECT_FALSE(MetricsTable::attach(memory.data(), memory.size()).valid());
  header->magic ^= 1;
  header->layout_version = kMetricsLayoutVersion + 1;
  EXPECT_FALSE(MetricsTable::attach(memory.data(), memory.size()).valid());
  header->layout_version = kMetricsLayoutVersion;
  header->stripe_count = kMetricStripes / 2;
  EXPECT_FALSE(MetricsTable::attach(memory.data(), memory.size()).valid());
  header->stripe_count = kMetricStripes;
  EXPECT_TRUE(MetricsTable::attach(memory.data(), memory.size()).valid());
}

TEST(MetricsTable, SameBuckets) {
  ZoneMemory memory(MetricsTable::bytes_needed(1));
  const MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  EXPECT_TRUE(table.same_buckets(default_buckets()));
  EXPECT_EQ(table.buckets().count, default_buckets().count);

  Buckets fewer = default_buckets();
  --fewer.count;
  EXPECT_FALSE(table.same_buckets(fewer));
  Buckets moved = default_buckets();
  moved.bounds_us[3] += 1;
  EXPECT_FALSE(table.same_buckets(moved));
  // Only the configured bounds count, not leftovers past `count`.
  Buckets leftovers = default_buckets();
  leftovers.bounds_us[kMaxBuckets - 1] = 99;
  EXPECT_TRUE(table.same_buckets(leftovers));
}

TEST(MetricsTable, RebindWithTheSameRoutesKeepsCounters) {
  ZoneMemory memory(MetricsTable::bytes_needed(4));
  MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  const std::vector<RouteName> names = {{"s", "a"}, {"s", "b"}, {"t", "a"}};
  const std::vector<std::uint32_t> first = bind(table, names);
  for (std::size_t i = 0; i < first.size(); ++i) {
    for (std::size_t n = 0; n <= i; ++n) table.record(i, first[i], 0, 0, 10, false, 0, 1);
  }
  // A reload, with the names listed in another order.
  const std::vector<RouteName> reordered = {names[2], names[0], names[1]};
  const std::vector<std::uint32_t> second = bind(table, reordered);
  EXPECT_EQ(second[0], first[2]);
  EXPECT_EQ(second[1], first[0]);
  EXPECT_EQ(second[2], first[1]);
  EXPECT_EQ(table.route_count(), 3u);
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(total_requests(table.snapshot(first[i])), i + 1);
  }
}

TEST(MetricsTable, RebindWithAChangedSetKeepsSurvivorsAndZeroesNewRoutes) {
  ZoneMemory memory(MetricsTable::bytes_needed(3));
  MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  const std::vector<std::uint32_t> first = bind(table, {{"s", "keep"}, {"s", "drop"}});
  table.record(0, first[0], 0, 0, 10, false, 0, 7);
  table.record(1, first[1], 0, 0, 10, false, 0, 9);
  // Dirty the never-bound slot too: a reused slot must start from zero whatever it held.
  const std::uint32_t spare = 3 - first[0] - first[1];
  table.record(2, spare, 0, 0, 10, false, 0, 5);

  // "drop" goes, "new" comes: the never-used slot is taken, not the one "drop" just freed,
  // so old workers still counting "drop" do not pollute "new".
  const std::vector<std::uint32_t> second = bind(table, {{"s", "new"}, {"s", "keep"}});
  EXPECT_EQ(second[1], first[0]);
  EXPECT_EQ(second[0], spare);
  EXPECT_EQ(table.route_count(), 2u);
  EXPECT_EQ(table.snapshot(first[0]).response_bytes, 7u);
  EXPECT_EQ(total_requests(table.snapshot(second[0])), 0u);
  EXPECT_EQ(table.snapshot(second[0]).response_bytes, 0u);
  RouteName name;
  EXPECT_FALSE(table.route_name(first[1], &name));  // freed
  ASSERT_TRUE(table.route_name(second[0], &name));
  EXPECT_EQ(name.route, "new");

  // Two more new routes: one takes the freed "drop" slot, zeroed; "drop" coming back is new.
  const std::vector<std::uint32_t> third =
      bind(table, {{"s", "keep"}, {"s", "new"}, {"s", "drop"}});
  EXPECT_EQ(third[0], first[0]);
  EXPECT_EQ(third[1], second[0]);
  EXPECT_EQ(third[2], first[1]);
  EXPECT_EQ(table.snapshot(third[2]).response_bytes, 0u);
  EXPECT_EQ(table.route_count(), 3u);

  // Everything removed: no routes left.
  EXPECT_TRUE(table.bind_routes(nullptr, 0, nullptr));
  EXPECT_EQ(table.route_count(), 0u);
}

TEST(MetricsTable, EqualNamesShareASlot) {
  ZoneMemory memory(MetricsTable::bytes_needed(2));
  MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  // Three names, two distinct: fits in two slots.
  const std::vector<std::uint32_t> slots = bind(table, {{"s", "a"}, {"s", "b"}, {"s", "a"}});
  EXPECT_EQ(slots[0], slots[2]);
  EXPECT_NE(slots[0], slots[1]);
  EXPECT_EQ(table.route_count(), 2u);
  // The same server + route split differently is a different series.
  std::vector<std::uint32_t> split(2);
  const std::vector<RouteName> names = {{"ab", "c"}, {"a", "bc"}};
  ASSERT_TRUE(table.bind_routes(names.data(), names.size(), split.data()));
  EXPECT_NE(split[0], split[1]);
}

TEST(MetricsTable, NotEnoughSlotsFailsAndChangesNothing) {
  ZoneMemory memory(MetricsTable::bytes_needed(2));
  MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  const std::vector<std::uint32_t> first = bind(table, {{"s", "a"}, {"s", "b"}});
  table.record(0, first[0], 0, 0, 10, false, 0, 3);

  const std::vector<RouteName> too_many = {{"s", "a"}, {"s", "c"}, {"s", "d"}};
  std::vector<std::uint32_t> slots(too_many.size());
  EXPECT_FALSE(table.bind_routes(too_many.data(), too_many.size(), slots.data()));
  // The running configuration's routes and counters are untouched.
  EXPECT_EQ(table.route_count(), 2u);
  RouteName name;
  ASSERT_TRUE(table.route_name(first[1], &name));
  EXPECT_EQ(name.route, "b");
  EXPECT_EQ(table.snapshot(first[0]).response_bytes, 3u);
  // And it still binds what fits.
  const std::vector<std::uint32_t> again = bind(table, {{"s", "a"}, {"s", "c"}});
  EXPECT_EQ(again[0], first[0]);
  EXPECT_EQ(again[1], first[1]);
  EXPECT_EQ(table.snapshot(again[1]).response_bytes, 0u);
}

TEST(MetricsTable, NamesLongerThanASlotAreRefused) {
  ZoneMemory memory(MetricsTable::bytes_needed(2));
  MetricsTable table = MetricsTable::create(memory.data(), memory.size(), default_buckets());
  const std::string server(100, 's');
  const std::string fits(kRouteNameBytes - server.size(), 'r');
  const std::string too_long(fits.size() + 1, 'r');
  EXPECT_TRUE(MetricsTable::name_fits({server, fits}));
  EXPECT_FALSE(MetricsTable::name_fits({server, too_long}));
  EXPECT_FALSE(MetricsTable::name_fits({std::string(kRouteNameBytes + 1, 's'), ""}));

  const std::vector<RouteName> names = {{"s", "a"}, {server, too_long}};
  std::vector<std::uint32_t> slots(names.size());
  EXPECT_FALSE(table.bind_routes(names.data(), names.size(), slots.data()));
  EXPECT_EQ(table.route_count(), 0u);

  const std::vector<std::uint32_t> bound = bind(table, {{server, fits}});
  RouteName name;
  ASSERT_TRUE(table.route_name(bound[0], &name));
  EXPECT_EQ(name.server, server);
  EXPECT_EQ(name.route, fits);
}

}  // namespace
}  // namespace captain::metrics
