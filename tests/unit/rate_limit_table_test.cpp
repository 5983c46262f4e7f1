// LimitTable on a simulated millisecond clock: exact limits, eviction, crash recovery, threads.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "ngx_module/core/rate_limit/gcra.h"
#include "ngx_module/core/rate_limit/limit_key.h"
#include "ngx_module/core/rate_limit/limit_table.h"
#include "ngx_module/core/rate_limit/policy.h"

namespace captain::rate_limit {
namespace {

// The zone's creation time on the simulated monotonic millisecond clock.
constexpr std::uint64_t kEpoch = 1'000'000;

// The state word as limit_table.h documents it: payload (48) | generation (14) | status (2).
constexpr std::uint64_t kEmpty = 0;
constexpr std::uint64_t kClaimed = 1;
constexpr std::uint64_t kLive = 2;
constexpr std::uint64_t status_of(std::uint64_t state) {
  return state & 0x3;
}
constexpr std::uint64_t generation_of(std::uint64_t state) {
  return (state >> 2) & 0x3fff;
}
constexpr std::uint64_t payload_of(std::uint64_t state) {
  return state >> 16;
}
constexpr std::uint64_t make_state(std::uint64_t status, std::uint64_t generation,
                                   std::uint64_t payload) {
  return (payload << 16) | (generation << 2) | status;
}

Policy build(std::uint64_t requests, std::uint64_t period_ms, std::uint64_t burst) {
  const PolicyBuild built = make_policy(Rate{requests, period_ms}, burst);
  EXPECT_TRUE(built.ok) << built.error;
  return built.policy;
}

std::size_t bytes_for(std::size_t buckets) {
  return sizeof(ZoneHeader) + buckets * kBucketSlots * sizeof(Slot);
}

// 64-byte aligned memory standing in for an nginx shared zone; starts as garbage.
class ZoneMemory {
 public:
  explicit ZoneMemory(std::size_t bytes)
      : bytes_(bytes), data_(std::aligned_alloc(64, (bytes + 63) / 64 * 64)) {
    std::memset(data_, 0xa5, bytes);
  }
  ~ZoneMemory() { std::free(data_); }
  ZoneMemory(const ZoneMemory&) = delete;
  ZoneMemory& operator=(const ZoneMemory&) = delete;

  void* data() const { return data_; }
  std::size_t size() const { return bytes_; }

 private:
  std::size_t bytes_;
  void* data_;
};

class Zone {
 public:
  Zone(const Policy& policy, std::size_t buckets, std::size_t spare_bytes = 0)
      : memory_(bytes_for(buckets) + spare_bytes) {
    table = LimitTable::create(memory_.data(), bytes_for(buckets), policy, 0x5eed, kEpoch);
  }

  Key ip(std::uint32_t n) const {
    unsigned char bytes[4];
    std::memcpy(bytes, &n, sizeof bytes);
    return make_key(bytes, sizeof bytes, table.header().seed);
  }
  Key named(const std::string& name) const {
    return make_key(reinterpret_cast<const unsigned char*>(name.data()), name.size(),
                    table.header().seed);
  }

  Slot* slots() const {
    return reinterpret_cast<Slot*>(static_cast<unsigned char*>(memory_.data()) +
                                   sizeof(ZoneHeader));
  }

  // Slots that hold `key` as LIVE, found by scanning the whole table.
  std::vector<Slot*> copies(const Key& key) const {
    std::vector<Slot*> out;
    for (std::size_t i = 0; i < table.slot_count(); ++i) {
      Slot& slot = slots()[i];
      if (status_of(slot.state.load()) != kLive) continue;
      if (slot.key[0].load() == key.words[0] && slot.key[1].load() == key.words[1] &&
          ((slot.info.load() >> 32) & 0xff) == key.length_code) {
        out.push_back(&slot);
      }
    }
    return out;
  }
  bool holds(const Key& key) const { return !copies(key).empty(); }

  // What a key has left right now, without charging it.
  std::uint64_t remaining(const Key& key, std::uint64_t ms) {
    return table.check(key, kEpoch + ms, false).decision.remaining;
  }
  bool charge(const Key& key, std::uint64_t ms) {
    return table.check(key, kEpoch + ms, true).decision.allowed;
  }

  const ZoneMemory& memory() const { return memory_; }

  LimitTable table;

 private:
  ZoneMemory memory_;
};

// --- layout ------------------------------------------------------------------------------------

TEST(LimitTableLayout, CapacityIsFourKeysPerBucketAndNeedsTwoBuckets) {
  EXPECT_EQ(LimitTable::capacity_for(0), 0u);
  EXPECT_EQ(LimitTable::capacity_for(sizeof(ZoneHeader)), 0u);
  EXPECT_EQ(LimitTable::capacity_for(bytes_for(1)), 0u);
  EXPECT_EQ(LimitTable::capacity_for(bytes_for(2) - 1), 0u);
  EXPECT_EQ(LimitTable::capacity_for(bytes_for(2)), 8u);
  EXPECT_EQ(LimitTable::capacity_for(bytes_for(1000) + 127), 4000u);
}

TEST(LimitTableLayout, CreateRejectsTooSmallMemory) {
  const Policy p = build(10, 1'000, 0);
  ZoneMemory memory(bytes_for(2));
  EXPECT_FALSE(LimitTable::create(memory.data(), bytes_for(1), p, 1, 0).valid());
  EXPECT_FALSE(LimitTable::create(nullptr, bytes_for(2), p, 1, 0).valid());
  EXPECT_FALSE(LimitTable::create(memory.data(), bytes_for(2), Policy{}, 1, 0).valid());
  const LimitTable table = LimitTable::create(memory.data(), bytes_for(2), p, 1, 0);
  ASSERT_TRUE(table.valid());
  EXPECT_EQ(table.slot_count(), 8u);
}

TEST(LimitTableLayout, CreateFormatsAnEmptyTable) {
  const Policy p = build(10, 1'000, 0);
  Zone zone(p, 16);
  ASSERT_TRUE(zone.table.valid());
  const ZoneHeader& h = zone.table.header();
  EXPECT_EQ(h.magic, kZoneMagic);
  EXPECT_EQ(h.layout_version, kLayoutVersion);
  EXPECT_EQ(h.policy, p);
  EXPECT_EQ(h.policy.interval, p.interval);
  EXPECT_EQ(h.seed, 0x5eedu);
  EXPECT_EQ(h.epoch_ms, kEpoch);
  EXPECT_EQ(h.bucket_count, 16u);
  for (std::size_t i = 0; i < zone.table.slot_count(); ++i) {
    EXPECT_EQ(zone.slots()[i].state.load(), make_state(kEmpty, 0, 0)) << i;
  }
  const ZoneCounters c = zone.table.counters();
  for (const std::uint64_t n : c.outcomes) EXPECT_EQ(n, 0u);
  EXPECT_EQ(c.evictions, 0u);
  EXPECT_EQ(zone.table.live_keys(kEpoch), 0u);
}

TEST(LimitTableLayout, VerifyAcceptsWhatTheTableWritesAndNothingElse) {
  Zone zone(build(10, 1'000, 0), 16);
  EXPECT_TRUE(zone.table.verify());
  for (std::uint32_t i = 0; i < 40; ++i) zone.charge(zone.ip(i), i);
  EXPECT_TRUE(zone.table.verify());
  zone.slots()[5].state.store(make_state(kEmpty, 0, 0) | 0x3);  // no such status
  EXPECT_FALSE(zone.table.verify());
}

// --- decisions -----------------------------------------------------------------------------------

TEST(LimitTable, HotKeyGetsCapacityThenOnePerInterval) {
  Zone zone(build(10, 1'000, 0), 64);  // T = 100 ms, capacity 10
  const Key key = zone.ip(0x0a000001);
  for (std::uint64_t i = 0; i < 10; ++i) {
    const CheckResult r = zone.table.check(key, kEpoch + 500, true);
    ASSERT_TRUE(r.decision.allowed) << i;
    EXPECT_EQ(r.decision.remaining, 9 - i);
    EXPECT_NE(r.ticket.slot, nullptr);
  }
  const CheckResult rejected = zone.table.check(key, kEpoch + 500, true);
  EXPECT_FALSE(rejected.decision.allowed);
  EXPECT_EQ(rejected.decision.retry_after, 100u);
  EXPECT_EQ(rejected.ticket.slot, nullptr);
  for (std::uint64_t k = 1; k <= 100; ++k) {
    ASSERT_FALSE(zone.charge(key, 500 + k * 100 - 1)) << k;
    ASSERT_TRUE(zone.charge(key, 500 + k * 100)) << k;
    ASSERT_FALSE(zone.charge(key, 500 + k * 100)) << k;
  }
}

TEST(LimitTable, FractionalIntervalIsExactOnTheZoneClock) {
  Zone zone(build(3, 1'000, 0), 64);  // T = 333.33 ms: 1000 units of 1/3 ms
  const Key key = zone.ip(7);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(zone.charge(key, 0));
  // tat 3000 units, tolerance 2000: the next request passes from unit 1000 = 333.33 ms.
  EXPECT_FALSE(zone.charge(key, 333));  // 999 units
  EXPECT_TRUE(zone.charge(key, 334));   // 1002 units; tat 4000
  EXPECT_FALSE(zone.charge(key, 666));  // 1998 units
  EXPECT_TRUE(zone.charge(key, 667));   // 2001 units; tat 5000
  // Over a long run the rate is exactly 3 per second.
  int allowed = 0;
  for (std::uint64_t ms = 1'000; ms < 61'000; ++ms) allowed += zone.charge(key, ms) ? 1 : 0;
  EXPECT_EQ(allowed, 180);
}

TEST(LimitTable, ClockReadBeforeTheZoneEpochCountsAsTheEpoch) {
  Zone zone(build(1, 1'000, 0), 8);
  const Key key = zone.ip(1);
  EXPECT_TRUE(zone.table.check(key, kEpoch - 50, true).decision.allowed);
  EXPECT_FALSE(zone.table.check(key, kEpoch - 10, true).decision.allowed);
  EXPECT_FALSE(zone.charge(key, 999));
  EXPECT_TRUE(zone.charge(key, 1'000));
}

TEST(LimitTable, KeysAreIsolated) {
  Zone zone(build(2, 1'000, 0), 64);
  const Key a = zone.ip(1);
  const Key b = zone.ip(2);
  const Key c = zone.named("a-long-api-key-for-client-number-three");
  ASSERT_TRUE(zone.charge(a, 0));
  ASSERT_TRUE(zone.charge(a, 0));
  EXPECT_FALSE(zone.charge(a, 0));
  EXPECT_EQ(zone.remaining(b, 0), 2u);
  EXPECT_TRUE(zone.charge(b, 0));
  EXPECT_EQ(zone.remaining(b, 0), 1u);
  EXPECT_EQ(zone.remaining(c, 0), 2u);
  EXPECT_TRUE(zone.charge(c, 0));
  EXPECT_TRUE(zone.charge(c, 0));
  EXPECT_FALSE(zone.charge(c, 0));
  EXPECT_TRUE(zone.charge(b, 0));
  EXPECT_FALSE(zone.charge(b, 0));
}

TEST(LimitTable, AKeyThatIsNotChargedIsNotInserted) {
  Zone zone(build(5, 1'000, 0), 8);
  const Key key = zone.ip(42);
  const CheckResult r = zone.table.check(key, kEpoch + 10, false);
  EXPECT_TRUE(r.decision.allowed);
  EXPECT_EQ(r.decision.remaining, 5u);
  EXPECT_EQ(r.ticket.slot, nullptr);
  EXPECT_FALSE(zone.holds(key));
  for (std::size_t i = 0; i < zone.table.slot_count(); ++i) {
    EXPECT_EQ(status_of(zone.slots()[i].state.load()), kEmpty);
  }
  // A peek at a known key does not charge it either.
  ASSERT_TRUE(zone.charge(key, 10));
  const std::uint64_t state = zone.copies(key).at(0)->state.load();
  EXPECT_EQ(zone.remaining(key, 10), 4u);
  EXPECT_EQ(zone.remaining(key, 10), 4u);
  EXPECT_EQ(zone.copies(key).at(0)->state.load(), state);
}

TEST(LimitTable, RejectionChangesNoStateButCountsAsAUse) {
  Zone zone(build(1, 1'000, 0), 8);
  const Key key = zone.ip(3);
  ASSERT_TRUE(zone.charge(key, 0));
  Slot* slot = zone.copies(key).at(0);
  const std::uint64_t state = slot->state.load();
  EXPECT_EQ(payload_of(state), 1'000u);  // tat, in units (ms here) since the zone's epoch
  for (int i = 1; i < 100; ++i) ASSERT_FALSE(zone.charge(key, static_cast<std::uint64_t>(i)));
  EXPECT_EQ(slot->state.load(), state);
  EXPECT_EQ(slot->info.load() & 0xffffffff, 99u);   // last use
  EXPECT_EQ((slot->info.load() >> 32) & 0xff, 4u);  // length code kept
}

TEST(LimitTable, RefundRestoresOneRequest) {
  Zone zone(build(10, 1'000, 0), 64);
  const Key key = zone.ip(9);
  Ticket last;
  for (int i = 0; i < 10; ++i) {
    const CheckResult r = zone.table.check(key, kEpoch, true);
    ASSERT_TRUE(r.decision.allowed);
    last = r.ticket;
  }
  EXPECT_FALSE(zone.charge(key, 0));
  zone.table.refund(last);
  EXPECT_EQ(zone.remaining(key, 0), 1u);
  EXPECT_TRUE(zone.charge(key, 0));
  EXPECT_FALSE(zone.charge(key, 0));
  zone.table.refund(Ticket{});  // nothing charged: nothing to take back
  EXPECT_FALSE(zone.charge(key, 0));
}

TEST(LimitTable, RefundOfTheFirstChargeEmptiesTheKey) {
  Zone zone(build(10, 1'000, 0), 64);
  const Key key = zone.ip(9);
  const CheckResult r = zone.table.check(key, kEpoch + 5, true);
  zone.table.refund(r.ticket);
  EXPECT_EQ(zone.remaining(key, 5), 10u);
  EXPECT_EQ(zone.table.live_keys(kEpoch + 5), 0u);
}

TEST(LimitTable, RefundAfterTheKeyWasEvictedChangesNothing) {
  Zone zone(build(1, 86'400'000, 1), 2);  // 8 slots; keys stay live all day
  const Key victim = zone.ip(100);
  const CheckResult r = zone.table.check(victim, kEpoch, true);
  ASSERT_NE(r.ticket.slot, nullptr);
  for (std::uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(zone.charge(zone.ip(i), 1 + i));
  EXPECT_FALSE(zone.holds(victim));
  EXPECT_EQ(zone.table.counters().evictions, 1u);
  // The slot now belongs to the last key inserted.
  const Key owner = zone.ip(7);
  ASSERT_EQ(zone.copies(owner).at(0), r.ticket.slot);
  const std::uint64_t state = r.ticket.slot->state.load();
  zone.table.refund(r.ticket);
  EXPECT_EQ(r.ticket.slot->state.load(), state);
  EXPECT_EQ(zone.remaining(owner, 10), 1u);
}

TEST(LimitTable, ChargeUnconditionallyChargesEvenARejectedKey) {
  Zone zone(build(1, 1'000, 1), 8);  // T = 1000 ms, capacity 2
  const Key key = zone.ip(5);
  ASSERT_TRUE(zone.charge(key, 0));
  ASSERT_TRUE(zone.charge(key, 0));
  EXPECT_EQ(zone.table.check(key, kEpoch, true).decision.retry_after, 1'000u);
  zone.table.charge_unconditionally(key, kEpoch);
  EXPECT_EQ(zone.table.check(key, kEpoch, true).decision.retry_after, 2'000u);
  EXPECT_EQ(zone.copies(key).size(), 1u);
}

TEST(LimitTable, ChargeUnconditionallyInsertsAnUnknownKey) {
  Zone zone(build(1, 1'000, 1), 8);
  const Key key = zone.named("a-client-whose-first-response-failed");
  zone.table.charge_unconditionally(key, kEpoch + 3);
  EXPECT_TRUE(zone.holds(key));
  EXPECT_EQ(zone.remaining(key, 3), 1u);
  zone.table.charge_unconditionally(key, kEpoch + 3);
  EXPECT_FALSE(zone.table.check(key, kEpoch + 3, false).decision.allowed);
}

// --- eviction ------------------------------------------------------------------------------------

TEST(LimitTableEviction, ExpiredKeysGoFirstThenTheLeastRecentlyUsed) {
  Zone zone(build(1, 1'000, 1), 2);  // 8 slots shared by every key; T = 1000 ms, capacity 2
  std::vector<Key> old_keys;
  std::vector<Key> live_keys;
  for (std::uint32_t i = 0; i < 4; ++i) {
    old_keys.push_back(zone.ip(i));
    ASSERT_TRUE(zone.charge(old_keys.back(), 0));  // tat 1000: expired from t = 1000
  }
  for (std::uint32_t i = 0; i < 4; ++i) {
    live_keys.push_back(zone.ip(10 + i));
    ASSERT_TRUE(zone.charge(live_keys.back(), 2'000 + i));  // last use 2000 + i
  }
  for (std::size_t i = 0; i < zone.table.slot_count(); ++i) {
    ASSERT_EQ(status_of(zone.slots()[i].state.load()), kLive);
  }
  EXPECT_EQ(zone.table.live_keys(kEpoch + 2'500), 4u);

  // New keys take the expired keys' slots; nothing live is evicted.
  std::vector<Key> new_keys;
  for (std::uint32_t i = 0; i < 4; ++i) {
    new_keys.push_back(zone.ip(20 + i));
    ASSERT_TRUE(zone.charge(new_keys.back(), 2'500));
  }
  for (const Key& k : old_keys) EXPECT_FALSE(zone.holds(k));
  for (const Key& k : live_keys) EXPECT_TRUE(zone.holds(k));  // a scan: no use recorded
  EXPECT_EQ(zone.table.counters().evictions, 0u);
  EXPECT_EQ(zone.table.live_keys(kEpoch + 2'500), 8u);

  // The table is full of live keys: the least recently used one goes, and counts.
  ASSERT_TRUE(zone.charge(zone.ip(30), 2'600));
  EXPECT_FALSE(zone.holds(live_keys[0]));
  for (std::size_t i = 1; i < 4; ++i) EXPECT_TRUE(zone.holds(live_keys[i]));
  EXPECT_EQ(zone.table.counters().evictions, 1u);

  // Using a key makes it recent: the next eviction skips it.
  ASSERT_TRUE(zone.charge(live_keys[1], 2'700));
  ASSERT_TRUE(zone.charge(zone.ip(31), 2'800));
  EXPECT_TRUE(zone.holds(live_keys[1]));
  EXPECT_FALSE(zone.holds(live_keys[2]));
  EXPECT_EQ(zone.table.counters().evictions, 2u);

  // Once everything expired, a new key reuses a slot without counting an eviction.
  ASSERT_TRUE(zone.charge(zone.ip(32), 10'000));
  EXPECT_EQ(zone.table.counters().evictions, 2u);
  EXPECT_EQ(zone.table.live_keys(kEpoch + 10'000), 1u);
}

TEST(LimitTableEviction, ARejectedClientThatKeepsKnockingIsNotEvicted) {
  Zone zone(build(1, 86'400'000, 0), 2);  // 8 slots; one request per day
  const Key hammering = zone.ip(1'000);
  ASSERT_TRUE(zone.charge(hammering, 0));
  for (std::uint32_t i = 0; i < 7; ++i) ASSERT_TRUE(zone.charge(zone.ip(i), 10 + i));
  // Rejected, but in use: the next new key evicts ip(0), not the exhausted client, which would
  // otherwise come back with a fresh quota.
  EXPECT_FALSE(zone.charge(hammering, 100));
  ASSERT_TRUE(zone.charge(zone.ip(50), 200));
  EXPECT_TRUE(zone.holds(hammering));
  EXPECT_FALSE(zone.holds(zone.ip(0)));
  EXPECT_FALSE(zone.charge(hammering, 300));
}

TEST(LimitTableEviction, AmongKeysUsedInTheSameMillisecondTheOneHoldingLeastStateGoes) {
  Zone zone(build(1, 1'000, 9), 2);  // T = 1000 ms, capacity 10; nginx's clock stands still
  for (std::uint32_t i = 0; i < 8; ++i) {
    const std::uint32_t k = (i + 3) % 8;  // inserted in another order than their state sizes
    for (std::uint32_t n = 0; n <= k; ++n) ASSERT_TRUE(zone.charge(zone.ip(k), 0));
  }
  ASSERT_TRUE(zone.charge(zone.ip(99), 0));
  EXPECT_FALSE(zone.holds(zone.ip(0)));  // one request: the least to forget
  for (std::uint32_t k = 1; k < 8; ++k) EXPECT_TRUE(zone.holds(zone.ip(k))) << k;
}

TEST(LimitTableEviction, CollidingKeysStayDistinct) {
  // Two buckets: every key's two candidate buckets are the same pair.
  Zone zone(build(10, 60'000, 0), 2);
  std::vector<Key> keys;
  for (std::uint32_t i = 0; i < 4; ++i) keys.push_back(zone.ip(i));
  for (int i = 0; i < 3; ++i)
    keys.push_back(zone.named("long-client-key-" + std::string(20, 'x') + std::to_string(i)));
  keys.push_back(zone.named(std::string("\0\0", 2)));  // zero words, like ip(0) and empty slots
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t n = 0; n <= i; ++n) ASSERT_TRUE(zone.charge(keys[i], 0)) << i;
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(zone.remaining(keys[i], 0), 10 - (i + 1)) << i;
    EXPECT_EQ(zone.copies(keys[i]).size(), 1u) << i;
  }
  EXPECT_EQ(zone.remaining(zone.ip(99), 0), 10u);
  EXPECT_EQ(zone.remaining(zone.named(std::string("\0\0\0", 3)), 0), 10u);
  EXPECT_EQ(zone.remaining(zone.named(std::string()), 0), 10u);
  EXPECT_EQ(zone.table.counters().evictions, 0u);
}

TEST(LimitTableEviction, AStaleClaimIsReusedAfterKStaleClaimMsAndNotBefore) {
  Zone zone(build(1, 86'400'000, 0), 2);  // keys stay live all day
  for (std::uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(zone.charge(zone.ip(i), i));
  // A worker died between claiming the slot of key 3 and publishing its new key.
  Slot* crashed = zone.copies(zone.ip(3)).at(0);
  const std::uint64_t claimed_at = 100;  // zone milliseconds
  const std::uint64_t claim =
      make_state(kClaimed, generation_of(crashed->state.load()) + 1, claimed_at);
  crashed->state.store(claim);

  ASSERT_TRUE(zone.charge(zone.ip(50), claimed_at + kStaleClaimMs - 1));
  EXPECT_EQ(crashed->state.load(), claim);  // still someone's fresh claim
  EXPECT_FALSE(zone.holds(zone.ip(0)));     // the least recently used key went instead
  EXPECT_EQ(zone.table.counters().evictions, 1u);

  ASSERT_TRUE(zone.charge(zone.ip(51), claimed_at + kStaleClaimMs));
  EXPECT_EQ(zone.copies(zone.ip(51)).at(0), crashed);
  EXPECT_EQ(status_of(crashed->state.load()), kLive);
  EXPECT_EQ(generation_of(crashed->state.load()), generation_of(claim) + 1);
  EXPECT_TRUE(zone.holds(zone.ip(1)));  // no live key was pushed out for it
  EXPECT_EQ(zone.table.counters().evictions, 1u);
}

TEST(LimitTableEviction, LiveKeysCountsOnlyKeysHoldingState) {
  Zone zone(build(10, 1'000, 0), 64);        // T = 100 ms
  ASSERT_TRUE(zone.charge(zone.ip(1), 0));   // tat 100
  ASSERT_TRUE(zone.charge(zone.ip(2), 50));  // tat 150
  zone.table.check(zone.ip(3), kEpoch + 50, false);
  EXPECT_EQ(zone.table.live_keys(kEpoch + 50), 2u);
  EXPECT_EQ(zone.table.live_keys(kEpoch + 99), 2u);
  EXPECT_EQ(zone.table.live_keys(kEpoch + 100), 1u);
  EXPECT_EQ(zone.table.live_keys(kEpoch + 150), 0u);
}

// --- sharing the memory ----------------------------------------------------------------------

TEST(LimitTableAttach, SeesTheSameState) {
  const Policy p = build(2, 1'000, 0);
  Zone zone(p, 32);
  const Key key = zone.ip(77);
  ASSERT_TRUE(zone.charge(key, 0));
  LimitTable other = LimitTable::attach(zone.memory().data(), bytes_for(32));
  ASSERT_TRUE(other.valid());
  EXPECT_EQ(other.header().policy, p);
  EXPECT_EQ(other.slot_count(), zone.table.slot_count());
  EXPECT_EQ(other.check(key, kEpoch, false).decision.remaining, 1u);
  EXPECT_TRUE(other.check(key, kEpoch, true).decision.allowed);
  EXPECT_FALSE(zone.charge(key, 0));
  other.count(Outcome::rejected);
  EXPECT_EQ(zone.table.counters().outcomes[static_cast<std::size_t>(Outcome::rejected)], 1u);
}

TEST(LimitTableAttach, RejectsAnotherSize) {
  Zone zone(build(2, 1'000, 0), 32, 1'024);
  void* memory = zone.memory().data();
  EXPECT_FALSE(LimitTable::attach(memory, bytes_for(31)).valid());
  EXPECT_FALSE(LimitTable::attach(memory, bytes_for(33)).valid());
  EXPECT_FALSE(LimitTable::attach(memory, 0).valid());
  EXPECT_TRUE(LimitTable::attach(memory, bytes_for(32)).valid());
}

TEST(LimitTableAttach, RejectsAnotherLayoutVersionOrForeignMemory) {
  Zone zone(build(2, 1'000, 0), 32);
  auto* header = static_cast<ZoneHeader*>(zone.memory().data());
  header->layout_version = kLayoutVersion + 1;
  EXPECT_FALSE(LimitTable::attach(header, bytes_for(32)).valid());
  header->layout_version = kLayoutVersion;
  header->magic = 0;
  EXPECT_FALSE(LimitTable::attach(header, bytes_for(32)).valid());
  header->magic = kZoneMagic;
  EXPECT_TRUE(LimitTable::attach(header, bytes_for(32)).valid());

  ZoneMemory garbage(bytes_for(32));
  EXPECT_FALSE(LimitTable::attach(garbage.data(), garbage.size()).valid());
  EXPECT_FALSE(LimitTable::attach(nullptr, bytes_for(32)).valid());
}

// --- counters --------------------------------------------------------------------------------

TEST(LimitTableCounters, SumAcrossStripes) {
  Zone zone(build(2, 1'000, 0), 8);
  LimitTable workers[3] = {zone.table, zone.table, zone.table};
  workers[0].set_worker(0);
  workers[1].set_worker(1);
  workers[2].set_worker(1 + kCounterStripes);  // shares worker 1's stripe
  workers[0].count(Outcome::passed);
  workers[0].count(Outcome::passed);
  workers[1].count(Outcome::passed);
  workers[1].count(Outcome::rejected);
  workers[2].count(Outcome::dry_run);
  workers[2].count(Outcome::bypass);
  workers[2].count(Outcome::bypass);
  const ZoneCounters c = zone.table.counters();
  EXPECT_EQ(c.outcomes[static_cast<std::size_t>(Outcome::passed)], 3u);
  EXPECT_EQ(c.outcomes[static_cast<std::size_t>(Outcome::rejected)], 1u);
  EXPECT_EQ(c.outcomes[static_cast<std::size_t>(Outcome::dry_run)], 1u);
  EXPECT_EQ(c.outcomes[static_cast<std::size_t>(Outcome::bypass)], 2u);
  const ZoneHeader& h = zone.table.header();
  EXPECT_EQ(h.counters[0].outcomes[0].load(), 2u);
  EXPECT_EQ(h.counters[1].outcomes[0].load(), 1u);
  EXPECT_EQ(h.counters[1].outcomes[3].load(), 2u);
}

TEST(LimitTableCounters, EvictionsLandInTheEvictingWorkersStripe) {
  Zone zone(build(1, 86'400'000, 0), 2);
  LimitTable worker = zone.table;
  worker.set_worker(5);
  for (std::uint32_t i = 0; i < 9; ++i) worker.check(zone.ip(i), kEpoch + i, true);
  EXPECT_EQ(zone.table.header().counters[5].evictions.load(), 1u);
  EXPECT_EQ(zone.table.counters().evictions, 1u);
}

// --- threads ---------------------------------------------------------------------------------

// Spins until every thread has arrived, so that their first requests race.
void start_together(std::atomic<int>& arrived, int threads) {
  arrived.fetch_add(1);
  while (arrived.load() < threads) std::this_thread::yield();
}

TEST(LimitTableThreads, HotKeyWithAFrozenClockAllowsExactlyCapacity) {
  const Policy p = build(1'000, 60'000, 0);  // capacity 1000
  Zone zone(p, 1'024);
  constexpr int kThreads = 4;
  constexpr int kRounds = 12;
  constexpr int kChecks = 2'000;
  for (int round = 0; round < kRounds; ++round) {
    // A new key each round: the threads also race to insert it.
    const Key key = zone.ip(static_cast<std::uint32_t>(round));
    std::atomic<int> arrived{0};
    std::atomic<std::uint64_t> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        LimitTable table = zone.table;
        table.set_worker(static_cast<std::size_t>(t));
        start_together(arrived, kThreads);
        std::uint64_t mine = 0;
        for (int i = 0; i < kChecks; ++i) {
          if (table.check(key, kEpoch + 5, true).decision.allowed) ++mine;
        }
        allowed.fetch_add(mine);
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(allowed.load(), p.capacity) << "round " << round;
    EXPECT_EQ(zone.copies(key).size(), 1u) << "round " << round;
  }
  EXPECT_EQ(zone.table.counters().evictions, 0u);
}

TEST(LimitTableThreads, DistinctKeysInsertedConcurrentlyAreEachFoundOnce) {
  const Policy p = build(10, 1'000, 0);
  Zone zone(p, std::size_t{1} << 16);
  constexpr int kThreads = 8;
  constexpr int kKeysPerThread = 2'000;
  auto key_of = [&](int thread, int i) {
    // Half exact 4-byte keys, half hashed long ones.
    if (i % 2 == 0) return zone.ip(static_cast<std::uint32_t>(thread * kKeysPerThread + i));
    return zone.named("client-" + std::to_string(thread) + "-" + std::to_string(i) +
                      "-with-a-long-suffix");
  };
  std::atomic<int> arrived{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      LimitTable table = zone.table;
      table.set_worker(static_cast<std::size_t>(t));
      start_together(arrived, kThreads);
      for (int i = 0; i < kKeysPerThread; ++i) {
        if (!table.check(key_of(t, i), kEpoch, true).decision.allowed) rejected.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(rejected.load(), 0);
  EXPECT_EQ(zone.table.counters().evictions, 0u);

  // Every LIVE slot, by identity: no key twice, no torn key that matches nobody.
  std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>, int> live;
  for (std::size_t i = 0; i < zone.table.slot_count(); ++i) {
    const Slot& slot = zone.slots()[i];
    if (status_of(slot.state.load()) == kEmpty) continue;
    ASSERT_EQ(status_of(slot.state.load()), kLive) << i;
    ++live[{slot.key[0].load(), slot.key[1].load(), (slot.info.load() >> 32) & 0xff}];
  }
  EXPECT_EQ(live.size(), static_cast<std::size_t>(kThreads * kKeysPerThread));
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kKeysPerThread; ++i) {
      const Key key = key_of(t, i);
      ASSERT_EQ((live[{key.words[0], key.words[1], key.length_code}]), 1) << t << " " << i;
      ASSERT_EQ(zone.remaining(key, 0), p.capacity - 1) << t << " " << i;
    }
  }
  EXPECT_EQ(zone.table.live_keys(kEpoch), static_cast<std::uint64_t>(kThreads * kKeysPerThread));
}

TEST(LimitTableThreads, ConcurrentChargesAndRefundsBalance) {
  const Policy p = build(100, 1'000, 0);  // capacity 100
  Zone zone(p, 64);
  const Key key = zone.named("shared-key-longer-than-sixteen-bytes");
  // Inserted up front: a charge that lands on a racing inserter's duplicate moves to the
  // surviving copy, where its ticket can no longer refund it (conservative, but not balanced).
  zone.table.refund(zone.table.check(key, kEpoch, true).ticket);
  ASSERT_TRUE(zone.holds(key));
  constexpr int kThreads = 4;
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      LimitTable table = zone.table;
      start_together(arrived, kThreads);
      // Every allowed charge is taken back, so the key never runs out.
      for (int i = 0; i < 5'000; ++i) {
        const CheckResult r = table.check(key, kEpoch, true);
        ASSERT_TRUE(r.decision.allowed);
        table.refund(r.ticket);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(zone.remaining(key, 0), p.capacity);
}

}  // namespace
}  // namespace captain::rate_limit
