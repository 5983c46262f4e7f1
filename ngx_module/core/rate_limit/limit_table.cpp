// The lock-free shared-memory key table: lookup, charge, insert with eviction, refund.
#include "ngx_module/core/rate_limit/limit_table.h"

#include <algorithm>
#include <cstdint>
#include <new>

namespace captain::rate_limit {

namespace {

// The table lives in memory shared by nginx worker processes: an atomic that needs a lock
// would take a lock private to one process and protect nothing.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "slot words must be lock-free 64-bit atomics");

// --- state word: payload (48 bits) | generation (14) | status (2) ---------------------------

constexpr std::uint64_t kStatusMask = 0x3;
constexpr std::uint64_t kEmpty = 0;
constexpr std::uint64_t kClaimed = 1;
constexpr std::uint64_t kLive = 2;
constexpr unsigned kGenerationShift = 2;
constexpr std::uint64_t kGenerationMask = (std::uint64_t{1} << 14) - 1;
constexpr unsigned kPayloadShift = 16;
constexpr std::uint64_t kPayloadMax = (std::uint64_t{1} << 48) - 1;

constexpr std::uint64_t status_of(std::uint64_t state) {
  return state & kStatusMask;
}
constexpr std::uint64_t generation_of(std::uint64_t state) {
  return (state >> kGenerationShift) & kGenerationMask;
}
constexpr std::uint64_t payload_of(std::uint64_t state) {
  return state >> kPayloadShift;
}

// Clamps the payload: a policy keeps tat within 2^40 units of the clock, so only a zone clock
// that ran for years at scale 1000 could get here, and then saturating beats wrapping.
constexpr std::uint64_t make_state(std::uint64_t status, std::uint64_t generation,
                                   std::uint64_t payload) {
  return (std::min(payload, kPayloadMax) << kPayloadShift) |
         ((generation & kGenerationMask) << kGenerationShift) | status;
}

// Generations wrap after 2^14 reuses of one slot; a Ticket that old is long spent.
constexpr std::uint64_t next_generation(std::uint64_t generation) {
  return (generation + 1) & kGenerationMask;
}

// --- info word: key length code (8 bits) << 32 | last use in zone ms (32 bits) --------------

constexpr std::uint64_t kLastUseMask = 0xffffffff;
constexpr unsigned kLengthShift = 32;

constexpr std::uint64_t make_info(std::uint8_t length_code, std::uint64_t now_ms) {
  return (std::uint64_t{length_code} << kLengthShift) | (now_ms & kLastUseMask);
}
constexpr std::uint64_t length_code_of(std::uint64_t info) {
  return (info >> kLengthShift) & 0xff;
}

// Milliseconds since the slot's last use. 32-bit wrap-around arithmetic; a last use "in the
// future" (another worker's clock was read a little later than ours) counts as just now, not
// as 49 days ago.
std::uint32_t idle_ms(std::uint64_t info, std::uint64_t now_ms) {
  const auto age = static_cast<std::uint32_t>((now_ms - info) & kLastUseMask);
  return age > 0x7fffffffU ? 0 : age;
}

// --- layout ----------------------------------------------------------------------------------

constexpr std::size_t kBucketBytes = kBucketSlots * sizeof(Slot);
// Bucket indexes come from 32-bit hash halves ((x * n) >> 32), so n must fit in 32 bits.
constexpr std::uint64_t kMaxBuckets = std::uint64_t{1} << 32;
constexpr std::size_t kPositions = 2 * kBucketSlots;

std::uint64_t bucket_count_for(std::size_t bytes) {
  if (bytes < sizeof(ZoneHeader)) return 0;
  const std::uint64_t buckets =
      std::min<std::uint64_t>((bytes - sizeof(ZoneHeader)) / kBucketBytes, kMaxBuckets);
  return buckets < 2 ? 0 : buckets;
}

bool is_aligned(const void* memory) {
  return reinterpret_cast<std::uintptr_t>(memory) % alignof(ZoneHeader) == 0;
}

// Every later step divides by these or relies on them (tolerance < capacity * T < 2^40).
bool policy_is_usable(const Policy& policy) {
  return policy.scale >= 1 && policy.scale <= kMaxScale && policy.interval >= 1 &&
         policy.capacity >= 1 && policy.tolerance == (policy.capacity - 1) * policy.interval;
}

Slot* slots_of(ZoneHeader* header) {
  return reinterpret_cast<Slot*>(reinterpret_cast<unsigned char*>(header) + sizeof(ZoneHeader));
}

// --- clock -----------------------------------------------------------------------------------

struct ZoneNow {
  std::uint64_t ms = 0;     // since the zone's epoch: claim times and last use
  std::uint64_t units = 0;  // ms * scale: the GCRA clock, the base of every stored tat
};

ZoneNow zone_now(const ZoneHeader& header, std::uint64_t now_ms) {
  ZoneNow now;
  // Another process's clock reading may predate the zone's creation by a little.
  now.ms = std::min(now_ms > header.epoch_ms ? now_ms - header.epoch_ms : 0, kPayloadMax);
  const std::uint64_t scale = header.policy.scale;
  now.units = now.ms > kPayloadMax / scale ? kPayloadMax : now.ms * scale;
  return now;
}

bool claim_is_stale(std::uint64_t state, const ZoneNow& now) {
  const std::uint64_t claimed_at = payload_of(state);
  return now.ms >= claimed_at && now.ms - claimed_at >= kStaleClaimMs;
}

// --- slots -----------------------------------------------------------------------------------

// A key's candidate slots: bucket b1's slots, then b2's. Every process orders them the same
// way, which is what lets a duplicate insert decide which copy survives.
struct Positions {
  Slot* slot[kPositions];
};

Positions positions_of(ZoneHeader* header, const Key& key) {
  const std::uint64_t n = header->bucket_count;
  const std::uint64_t b1 = ((key.bucket_hash & 0xffffffff) * n) >> 32;
  std::uint64_t b2 = ((key.bucket_hash >> 32) * n) >> 32;
  if (b2 == b1) b2 = (b1 + 1) % n;
  Slot* const slots = slots_of(header);
  Positions positions;
  for (std::size_t i = 0; i < kBucketSlots; ++i) {
    positions.slot[i] = &slots[b1 * kBucketSlots + i];
    positions.slot[kBucketSlots + i] = &slots[b2 * kBucketSlots + i];
  }
  return positions;
}

// Whether `slot` is LIVE with `key`; then `state` is its state, read consistently with the key
// words (seqlock-style: the state is read again after the words, and an inserter fences
// between claiming a slot and rewriting its words). Without the second read a request could
// be judged by the tat of the key this slot held before ours moved in.
bool holds_key(const Slot& slot, const Key& key, std::uint64_t& state) {
  for (;;) {
    const std::uint64_t before = slot.state.load(std::memory_order_acquire);
    if (status_of(before) != kLive) return false;
    const std::uint64_t word0 = slot.key[0].load(std::memory_order_relaxed);
    const std::uint64_t word1 = slot.key[1].load(std::memory_order_relaxed);
    const std::uint64_t info = slot.info.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.state.load(std::memory_order_relaxed) != before) continue;
    if (word0 != key.words[0] || word1 != key.words[1] || length_code_of(info) != key.length_code) {
      return false;
    }
    state = before;
    return true;
  }
}

// The first position holding `key`, or -1.
int find(const Positions& positions, const Key& key, std::uint64_t& state) {
  for (std::size_t i = 0; i < kPositions; ++i) {
    if (holds_key(*positions.slot[i], key, state)) return static_cast<int>(i);
  }
  return -1;
}

// Records a use for the LRU choice. Only the time bits change, and only while the slot still
// has our key's length code: a plain store could write our length code over the info of a key
// that took the slot meanwhile, and that key could then never be found again.
void touch(Slot& slot, const Key& key, const ZoneNow& now) {
  std::uint64_t info = slot.info.load(std::memory_order_relaxed);
  if (length_code_of(info) != key.length_code) return;
  const std::uint64_t touched = (info & ~kLastUseMask) | (now.ms & kLastUseMask);
  // One attempt: if it fails, another request just touched the slot, which is as good.
  if (touched != info) {
    slot.info.compare_exchange_strong(info, touched, std::memory_order_relaxed);
  }
}

struct Victim {
  int index = -1;  // -1: every candidate is a fresh claim
  std::uint64_t state = 0;
  bool live = false;  // pushes out a key that still holds state: an eviction
};

// Where a new key goes: a free slot, else one whose key holds no state any more, else a
// crashed worker's claim, else the least recently used key. Fresh claims are skipped: their
// inserters are about to publish.
Victim pick_victim(const Positions& positions, const ZoneNow& now) {
  Victim expired;
  Victim stale;
  Victim oldest;
  std::uint32_t oldest_idle = 0;
  for (std::size_t i = 0; i < kPositions; ++i) {
    const Slot& slot = *positions.slot[i];
    // Relaxed: the claim CAS re-validates this value, and the LRU choice is a heuristic.
    const std::uint64_t state = slot.state.load(std::memory_order_relaxed);
    const int index = static_cast<int>(i);
    const std::uint64_t status = status_of(state);
    if (status == kLive) {
      if (payload_of(state) <= now.units) {
        if (expired.index < 0) expired = {index, state, false};
        continue;
      }
      // Among keys last used in the same millisecond (nginx's clock stands still while a worker
      // serves a batch of pipelined requests), the one holding the least state goes: evicting
      // it forgets the least, and an exhausted client is never the one to get a fresh quota.
      const std::uint32_t idle = idle_ms(slot.info.load(std::memory_order_relaxed), now.ms);
      if (oldest.index < 0 || idle > oldest_idle ||
          (idle == oldest_idle && payload_of(state) < payload_of(oldest.state))) {
        oldest = {index, state, true};
        oldest_idle = idle;
      }
    } else if (status == kClaimed) {
      if (stale.index < 0 && claim_is_stale(state, now)) stale = {index, state, false};
    } else {
      // EMPTY (status 3 is never written; a free slot is the safest reading of it).
      return {index, state, false};
    }
  }
  if (expired.index >= 0) return expired;
  if (stale.index >= 0) return stale;
  return oldest;
}

// Adds `debt` units to the key at `slot` (read as `state`). False if the slot changed hands.
bool add_debt(Slot& slot, std::uint64_t state, std::uint64_t debt, const ZoneNow& now) {
  const std::uint64_t generation = generation_of(state);
  while (status_of(state) == kLive && generation_of(state) == generation) {
    const std::uint64_t tat = std::max(payload_of(state), now.units) + debt;
    if (slot.state.compare_exchange_weak(state, make_state(kLive, generation, tat),
                                         std::memory_order_acq_rel, std::memory_order_acquire)) {
      return true;
    }
  }
  return false;
}

// Adds `debt` to the copy of `key` that lookups find (none: the key was evicted, and the debt
// with it).
void add_debt_to_key(const Positions& positions, const Key& key, std::uint64_t debt,
                     const ZoneNow& now) {
  for (;;) {
    std::uint64_t state = 0;
    const int found = find(positions, key, state);
    if (found < 0 || add_debt(*positions.slot[found], state, debt, now)) return;
  }
}

// Whether a position other than `ours` holds `key`.
bool held_elsewhere(const Positions& positions, int ours, const Key& key) {
  std::uint64_t state = 0;
  for (std::size_t i = 0; i < kPositions; ++i) {
    if (static_cast<int>(i) != ours && holds_key(*positions.slot[i], key, state)) return true;
  }
  return false;
}

// Frees the copy of `key` at `slot` if there is one; returns its debt (units of schedule ahead
// of now), which the caller moves to the surviving copy. EMPTY takes the next generation so
// that tickets for the freed copy refund nothing.
std::uint64_t take_copy(Slot& slot, const Key& key, const ZoneNow& now) {
  std::uint64_t state = 0;
  while (holds_key(slot, key, state)) {
    if (slot.state.compare_exchange_weak(
            state, make_state(kEmpty, next_generation(generation_of(state)), 0),
            std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return std::max(payload_of(state), now.units) - now.units;
    }
  }
  return 0;
}

enum class Settled {
  kept,    // ours is the key's only copy (as far as this request can tell)
  merged,  // ours gave way to an earlier copy: apply the request there
  gone,    // ours was taken by an earlier copy (our charge with it) or evicted
};

// Settles duplicates after publishing `key` at position `ours` (state `published`).
//
// Two requests for a new key that both claim a slot before either publishes create two copies.
// Lookups use the one at the earliest position, so that one survives: whoever publishes an
// earlier copy takes over the later ones and their debt, and whoever publishes a later copy
// gives way to an earlier one (moving the charges other requests made on it; its own request
// is then applied to the earlier copy, which may reject it; likewise after taking over debt, a
// publisher decides its own request again). Each side stores its LIVE state,
// then looks at the other's slot, with a seq_cst fence in between: of two concurrent
// publishers at least one sees the other.
//
// Residual race, accepted: a publisher stalled between its last look (held_elsewhere) and this
// scan has its fresh copy shadow an older one for that long; requests meanwhile are decided on
// the fresh copy, so a key may get extra first requests through (one per stalled publisher
// when the stall ends before publishing, up to one capacity when it falls right after), once.
Settled settle_duplicates(const Positions& positions, int ours, const Key& key,
                          std::uint64_t published, std::uint64_t interval, const ZoneNow& now) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  Slot& mine = *positions.slot[ours];
  for (int i = 0; i < ours; ++i) {
    Slot& earlier = *positions.slot[i];
    std::uint64_t state = 0;
    if (!holds_key(earlier, key, state)) continue;
    std::uint64_t current = published;
    while (!mine.state.compare_exchange_weak(
        current, make_state(kEmpty, next_generation(generation_of(published)), 0),
        std::memory_order_acq_rel, std::memory_order_relaxed)) {
      if (status_of(current) != kLive || generation_of(current) != generation_of(published)) {
        return Settled::gone;
      }
    }
    // Requests that found our copy first charged it beyond what we published.
    if (payload_of(current) > payload_of(published)) {
      const std::uint64_t debt = payload_of(current) - payload_of(published);
      if (!add_debt(earlier, state, debt, now)) add_debt_to_key(positions, key, debt, now);
    }
    return Settled::merged;
  }
  bool took_debt = false;
  for (std::size_t j = static_cast<std::size_t>(ours) + 1; j < kPositions; ++j) {
    const std::uint64_t debt = take_copy(*positions.slot[j], key, now);
    if (debt == 0) continue;
    add_debt_to_key(positions, key, debt, now);
    took_debt = true;
  }
  // Our own request was decided as the key's first; with the debt of a later copy on ours, take
  // its charge back and let the caller decide it again, against the whole state.
  std::uint64_t current = mine.state.load(std::memory_order_relaxed);
  while (status_of(current) == kLive && generation_of(current) == generation_of(published)) {
    if (!took_debt) return Settled::kept;
    const std::uint64_t tat = payload_of(current);
    const std::uint64_t refunded = tat > interval ? tat - interval : 0;
    if (mine.state.compare_exchange_weak(current,
                                         make_state(kLive, generation_of(published), refunded),
                                         std::memory_order_acq_rel, std::memory_order_relaxed)) {
      return Settled::merged;
    }
  }
  return Settled::gone;
}

enum class Mode { peek, charge, force };

Decision decide_for(const Policy& policy, std::uint64_t tat, const ZoneNow& now, Mode mode) {
  if (mode != Mode::force) return decide(policy, tat, now.units, mode == Mode::charge);
  Decision d;
  d.allowed = true;
  d.tat = charge_unconditionally(policy, tat, now.units);
  return d;
}

// The one path behind check() and charge_unconditionally(). Every failed CAS means another
// request changed one of our slots, so the operation restarts from the lookup: lock-free, and
// nothing is decided on a stale read.
CheckResult run(ZoneHeader* header, std::size_t stripe, const Key& key, std::uint64_t now_ms,
                Mode mode) {
  const Policy& policy = header->policy;
  const ZoneNow now = zone_now(*header, now_ms);
  const Positions positions = positions_of(header, key);
  for (;;) {
    std::uint64_t state = 0;
    const int found = find(positions, key, state);
    if (found >= 0) {
      Slot& slot = *positions.slot[found];
      const Decision d = decide_for(policy, payload_of(state), now, mode);
      // A rejection or a peek changes no state, but it is a use: an exhausted client that keeps
      // knocking must stay the most recently used key, or eviction would hand it a fresh quota.
      // touch() writes at most once per millisecond per key.
      if (!d.allowed || mode == Mode::peek) {
        touch(slot, key, now);
        return {d, {}};
      }
      const std::uint64_t generation = generation_of(state);
      if (!slot.state.compare_exchange_strong(state, make_state(kLive, generation, d.tat),
                                              std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
        continue;
      }
      touch(slot, key, now);
      return {d, {&slot, generation}};
    }

    // An unknown key is an empty one (tat 0); it only takes a slot once it is charged.
    const Decision d = decide_for(policy, 0, now, mode);
    if (!d.allowed || mode == Mode::peek) return {d, {}};
    const Victim victim = pick_victim(positions, now);
    // All eight candidates are being inserted into right now: let this request through
    // uncharged rather than wait in an nginx worker.
    if (victim.index < 0) return {d, {}};
    Slot& slot = *positions.slot[victim.index];
    const std::uint64_t generation = next_generation(generation_of(victim.state));
    std::uint64_t expected = victim.state;
    const std::uint64_t claim = make_state(kClaimed, generation, now.ms);
    if (!slot.state.compare_exchange_strong(expected, claim, std::memory_order_acq_rel,
                                            std::memory_order_relaxed)) {
      continue;
    }
    expected = claim;
    if (victim.live) header->counters[stripe].evictions.fetch_add(1, std::memory_order_relaxed);
    // Seqlock writer: a reader that sees any of the words below also sees the claim.
    std::atomic_thread_fence(std::memory_order_release);
    slot.key[0].store(key.words[0], std::memory_order_relaxed);
    slot.key[1].store(key.words[1], std::memory_order_relaxed);
    slot.info.store(make_info(key.length_code, now.ms), std::memory_order_relaxed);
    // Last look before publishing: a copy that appeared while we claimed is the key's state,
    // and a fresh copy of ours would shadow it. Give the slot back (it stays EMPTY; nothing
    // was published with this generation) and use that copy.
    if (held_elsewhere(positions, victim.index, key)) {
      slot.state.compare_exchange_strong(expected, make_state(kEmpty, generation, 0),
                                         std::memory_order_release, std::memory_order_relaxed);
      continue;
    }
    const std::uint64_t published = make_state(kLive, generation, d.tat);
    // Release: whoever acquires the LIVE state sees the key words and info written above. A CAS
    // rather than a store: had we stalled past kStaleClaimMs, another inserter may own the slot
    // by now, and a store would overwrite its state; then we start over instead.
    if (!slot.state.compare_exchange_strong(expected, published, std::memory_order_release,
                                            std::memory_order_relaxed)) {
      continue;
    }

    switch (settle_duplicates(positions, victim.index, key, published, policy.interval, now)) {
      case Settled::kept:
        return {d, {&slot, generation}};
      case Settled::gone:
        return {d, {}};
      case Settled::merged:
        break;
    }
  }
}

}  // namespace

std::size_t LimitTable::capacity_for(std::size_t bytes) {
  return static_cast<std::size_t>(bucket_count_for(bytes) * kBucketSlots);
}

LimitTable LimitTable::create(void* memory, std::size_t bytes, const Policy& policy,
                              std::uint64_t seed, std::uint64_t now_ms) {
  const std::uint64_t buckets = bucket_count_for(bytes);
  if (memory == nullptr || buckets == 0 || !is_aligned(memory) || !policy_is_usable(policy)) {
    return LimitTable();
  }
  auto* header = new (memory) ZoneHeader;
  header->magic = kZoneMagic;
  header->layout_version = kLayoutVersion;
  header->policy = policy;
  header->seed = seed;
  header->epoch_ms = now_ms;
  header->bucket_count = buckets;
  for (CounterStripe& stripe : header->counters) {
    for (auto& outcome : stripe.outcomes) outcome.store(0, std::memory_order_relaxed);
    stripe.evictions.store(0, std::memory_order_relaxed);
  }
  Slot* const slots = slots_of(header);
  const std::uint64_t slot_count = buckets * kBucketSlots;
  for (std::uint64_t i = 0; i < slot_count; ++i) {
    Slot* slot = new (&slots[i]) Slot;
    slot->key[0].store(0, std::memory_order_relaxed);
    slot->key[1].store(0, std::memory_order_relaxed);
    slot->state.store(make_state(kEmpty, 0, 0), std::memory_order_relaxed);
    slot->info.store(0, std::memory_order_relaxed);
  }
  // Publishes the formatted table to whatever hands `memory` to another thread or process.
  std::atomic_thread_fence(std::memory_order_release);
  return LimitTable(header);
}

LimitTable LimitTable::attach(void* memory, std::size_t bytes) {
  const std::uint64_t buckets = bucket_count_for(bytes);
  if (memory == nullptr || buckets == 0 || !is_aligned(memory)) return LimitTable();
  std::atomic_thread_fence(std::memory_order_acquire);
  auto* header = std::launder(static_cast<ZoneHeader*>(memory));
  if (header->magic != kZoneMagic || header->layout_version != kLayoutVersion ||
      header->bucket_count != buckets || !policy_is_usable(header->policy)) {
    return LimitTable();
  }
  return LimitTable(header);
}

std::size_t LimitTable::slot_count() const {
  return valid() ? static_cast<std::size_t>(header_->bucket_count * kBucketSlots) : 0;
}

// An invalid table has no policy to decide by; the glue never uses one, and if it did, letting
// requests through beats rejecting every one of them.
CheckResult LimitTable::check(const Key& key, std::uint64_t now_ms, bool charge) {
  if (!valid()) {
    CheckResult open;
    open.decision.allowed = true;
    return open;
  }
  return run(header_, stripe_, key, now_ms, charge ? Mode::charge : Mode::peek);
}

void LimitTable::charge_unconditionally(const Key& key, std::uint64_t now_ms) {
  if (valid()) run(header_, stripe_, key, now_ms, Mode::force);
}

void LimitTable::refund(const Ticket& ticket) {
  if (!valid() || ticket.slot == nullptr) return;
  const std::uint64_t interval = header_->policy.interval;
  std::uint64_t state = ticket.slot->state.load(std::memory_order_relaxed);
  // A different generation or status means the key was evicted (or its copy given up): the
  // charge went with it, and the slot's current tat belongs to someone else.
  while (status_of(state) == kLive && generation_of(state) == ticket.generation) {
    const std::uint64_t tat = payload_of(state);
    const std::uint64_t refunded = tat > interval ? tat - interval : 0;
    if (ticket.slot->state.compare_exchange_weak(
            state, make_state(kLive, ticket.generation, refunded), std::memory_order_acq_rel,
            std::memory_order_relaxed)) {
      return;
    }
  }
}

void LimitTable::count(Outcome outcome) {
  const auto index = static_cast<std::size_t>(outcome);
  if (!valid() || index >= kOutcomeCount) return;
  header_->counters[stripe_].outcomes[index].fetch_add(1, std::memory_order_relaxed);
}

ZoneCounters LimitTable::counters() const {
  ZoneCounters sum;
  if (!valid()) return sum;
  for (const CounterStripe& stripe : header_->counters) {
    for (std::size_t i = 0; i < kOutcomeCount; ++i) {
      sum.outcomes[i] += stripe.outcomes[i].load(std::memory_order_relaxed);
    }
    sum.evictions += stripe.evictions.load(std::memory_order_relaxed);
  }
  return sum;
}

std::uint64_t LimitTable::live_keys(std::uint64_t now_ms) const {
  if (!valid()) return 0;
  const ZoneNow now = zone_now(*header_, now_ms);
  const Slot* const slots = slots_of(header_);
  const std::size_t count = slot_count();
  std::uint64_t live = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t state = slots[i].state.load(std::memory_order_relaxed);
    if (status_of(state) == kLive && payload_of(state) > now.units) ++live;
  }
  return live;
}

bool LimitTable::verify() const {
  if (!valid() || header_->magic != kZoneMagic || header_->layout_version != kLayoutVersion) {
    return false;
  }
  const Slot* const slots = slots_of(header_);
  const std::size_t count = slot_count();
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t status = status_of(slots[i].state.load(std::memory_order_relaxed));
    if (status != kEmpty && status != kClaimed && status != kLive) return false;
  }
  return true;
}

}  // namespace captain::rate_limit
