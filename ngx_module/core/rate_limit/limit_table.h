// A rate-limit zone's key table in one block of shared memory: 32 bytes per key, no lock.
//
// Layout (plain data only, the same in every worker): a ZoneHeader, then buckets of kBucketSlots
// slots. Each key may live in two buckets chosen by its hash ("two-choice" hashing keeps the
// table nearly full before anything is evicted). A slot is
//   key words (16 B) | state (8 B): tat or claim time (48 bits), generation (14), status (2)
//                    | info (8 B): last use in ms (32 bits), key length code (8)
// and every change of a slot is one compare-and-swap of its state word:
//   * charging a known key: CAS state (tat, gen) -> (new tat, gen); the generation in the same
//     word proves the key did not change between reading it and the CAS;
//   * inserting a key: CAS a victim's state -> CLAIMED (claim time, gen + 1), write the key and
//     info, then store state -> LIVE (tat, gen + 1).
// A worker killed at any point leaves either a consistent slot or a CLAIMED one; a claim older
// than kStaleClaimMs is treated as free, so nothing can be corrupted or lost for good.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ngx_module/core/rate_limit/gcra.h"
#include "ngx_module/core/rate_limit/limit_key.h"
#include "ngx_module/core/rate_limit/policy.h"

namespace captain::rate_limit {

inline constexpr std::uint32_t kZoneMagic = 0x43524c5a;  // "CRLZ"
inline constexpr std::uint32_t kLayoutVersion = 1;       // bump when any layout below changes
inline constexpr std::size_t kBucketSlots = 4;           // 4 x 32 B = two cache lines
inline constexpr std::size_t kCounterStripes = 16;       // per-worker counters, worker % 16
inline constexpr std::uint64_t kStaleClaimMs = 1000;

// What happened to a request, for $captain_limit_status, the headers and the metrics.
enum class Outcome : std::uint8_t { passed = 0, rejected = 1, dry_run = 2, bypass = 3 };
inline constexpr std::size_t kOutcomeCount = 4;

struct alignas(64) CounterStripe {
  std::atomic<std::uint64_t> outcomes[kOutcomeCount];
  std::atomic<std::uint64_t> evictions;  // live (not yet expired) keys pushed out by new keys
};

struct alignas(32) Slot {
  std::atomic<std::uint64_t> key[2];
  std::atomic<std::uint64_t> state;
  std::atomic<std::uint64_t> info;
};
static_assert(sizeof(Slot) == 32, "a tracked key costs 32 bytes of shared memory");

struct alignas(64) ZoneHeader {
  std::uint32_t magic;
  std::uint32_t layout_version;
  Policy policy;
  std::uint64_t seed;          // hash seed, random per zone
  std::uint64_t epoch_ms;      // the zone clock's zero on the monotonic millisecond clock
  std::uint64_t bucket_count;  // >= 2
  CounterStripe counters[kCounterStripes];
};

struct ZoneCounters {
  std::uint64_t outcomes[kOutcomeCount] = {};
  std::uint64_t evictions = 0;
};

// Where a charge landed, so that it can be taken back when another zone rejects the request.
struct Ticket {
  Slot* slot = nullptr;  // nullptr: nothing was charged
  std::uint64_t generation = 0;
};

struct CheckResult {
  Decision decision;
  Ticket ticket;
};

// A view of a zone's memory; cheap to copy, owns nothing.
class LimitTable {
 public:
  // How many keys a block of `bytes` holds (0 if too small for a header and two buckets).
  static std::size_t capacity_for(std::size_t bytes);

  // Formats `bytes` at `memory` (64-byte aligned) as an empty table.
  static LimitTable create(void* memory, std::size_t bytes, const Policy& policy,
                           std::uint64_t seed, std::uint64_t now_ms);

  // Adopts a table formatted earlier (by create, in any process sharing the memory). Returns an
  // invalid table (valid() false) if the memory holds another layout version or size.
  static LimitTable attach(void* memory, std::size_t bytes);

  LimitTable() = default;
  bool valid() const { return header_ != nullptr; }
  const ZoneHeader& header() const { return *header_; }
  std::size_t slot_count() const;

  // count=all: decides and, when allowed and `charge`, charges the key; a key not yet in the
  // table is inserted only when it is charged. `now_ms` is the monotonic millisecond clock.
  CheckResult check(const Key& key, std::uint64_t now_ms, bool charge);

  // count=failures after a failed response: charges the key whatever its state.
  void charge_unconditionally(const Key& key, std::uint64_t now_ms);

  // Takes back the charge of an earlier check(), unless the key has been evicted since.
  void refund(const Ticket& ticket);

  // This process's counter stripe (the nginx worker number); counts land there without
  // contending with other workers.
  void set_worker(std::size_t worker) { stripe_ = worker % kCounterStripes; }
  void count(Outcome outcome);
  // Decisions and evictions, summed over the stripes.
  ZoneCounters counters() const;
  // Evictions counted in this process's stripe: a cheap read of a line the process writes anyway.
  std::uint64_t stripe_evictions() const {
    return header_->counters[stripe_].evictions.load(std::memory_order_relaxed);
  }

  // Keys that still hold state (tat > now): what a restart would forget. Scans the table.
  std::uint64_t live_keys(std::uint64_t now_ms) const;

  // Every slot's state word is one the table writes (empty, claimed or live): a scan, for tests
  // and the status endpoint's verify query. There is no lock to check; see the layout above for
  // why a killed worker cannot leave anything worse than a claim.
  bool verify() const;

 private:
  explicit LimitTable(ZoneHeader* header) : header_(header) {}
  ZoneHeader* header_ = nullptr;
  std::size_t stripe_ = 0;
};

}  // namespace captain::rate_limit
