// CacheStore over plain heap memory: round trips, replacement, LRU eviction, pins, purges,
// fill locks, layout versions, and threads hammering a small region.
#include "ngx_module/core/cache/cache_store.h"

#include "tests/unit/cache_test_entries.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace captain::cache {
namespace {

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

class CacheStoreTest : public ::testing::Test {
 protected:
  explicit CacheStoreTest(std::size_t bytes = 64 * 1024) : memory_(bytes) {
    store = CacheStore::create(memory_.data(), memory_.size(), 42);
    initial = store.stats();
  }

  bool has(const std::string& key) {
    Handle h = store.lookup(key);
    const bool found = h.valid();
    store.release(h);
    return found;
  }

  ZoneMemory memory_;
  CacheStore store;
  StoreStats initial;
};

// --- layout ------------------------------------------------------------------------------------

TEST(CacheStoreLayout, RefusesTooSmallUnalignedOrNull) {
  ZoneMemory memory(CacheStore::min_size() + 64);
  EXPECT_FALSE(CacheStore::create(nullptr, memory.size(), 1).valid());
  EXPECT_FALSE(CacheStore::create(memory.data(), CacheStore::min_size() - 16, 1).valid());
  EXPECT_FALSE(CacheStore::create(static_cast<char*>(memory.data()) + 16, CacheStore::min_size(), 1)
                   .valid());
  EXPECT_TRUE(CacheStore::create(memory.data(), CacheStore::min_size(), 1).valid());
}

TEST(CacheStoreLayout, AttachSeesTheSameStoreAndRefusesGarbage) {
  ZoneMemory memory(32 * 1024);
  EXPECT_FALSE(CacheStore::attach(memory.data(), memory.size()).valid());
  CacheStore created = CacheStore::create(memory.data(), memory.size(), 7);
  ASSERT_TRUE(put(created, "/k", 1, 100));
  CacheStore attached = CacheStore::attach(memory.data(), memory.size());
  ASSERT_TRUE(attached.valid());
  Handle h = attached.lookup("/k");
  EXPECT_TRUE(intact(h, "/k"));
  attached.release(h);
  EXPECT_EQ(attached.key_hash("/k"), created.key_hash("/k"));
  // Another size is another layout.
  EXPECT_FALSE(CacheStore::attach(memory.data(), memory.size() - 64).valid());
}

TEST(CacheStoreLayout, OpenReinitializesOnAnotherLayoutVersion) {
  ZoneMemory memory(32 * 1024);
  CacheStore store = CacheStore::open(memory.data(), memory.size(), 7);
  ASSERT_TRUE(put(store, "/k", 1, 100));
  // Reopening an unchanged layout keeps the entries (an nginx reload).
  store = CacheStore::open(memory.data(), memory.size(), 8);
  EXPECT_EQ(store.stats().entries, 1u);
  // The version word follows the magic word.
  std::uint32_t version = kStoreLayoutVersion + 1;
  std::memcpy(static_cast<char*>(memory.data()) + 4, &version, sizeof version);
  EXPECT_FALSE(CacheStore::attach(memory.data(), memory.size()).valid());
  store = CacheStore::open(memory.data(), memory.size(), 9);
  ASSERT_TRUE(store.valid());
  EXPECT_EQ(store.stats().entries, 0u);
  Handle h = store.lookup("/k");
  EXPECT_FALSE(h.valid());
  EXPECT_TRUE(CacheStore::attach(memory.data(), memory.size()).valid());
}

TEST(CacheStoreLayout, VerifyDetectsACorruptedHeap) {
  ZoneMemory memory(32 * 1024);
  CacheStore store = CacheStore::create(memory.data(), memory.size(), 7);
  ASSERT_TRUE(put(store, "/k", 1, 100));
  Slot open = store.reserve("/r", EntryMeta(), 0, 100);
  ASSERT_TRUE(open.valid());
  EXPECT_TRUE(store.verify());
  // The entry's key lives in its block: changing a byte breaks the stored key hash.
  Handle h = store.lookup("/k");
  ASSERT_TRUE(h.valid());
  const_cast<char*>(h.key.data())[1] = 'X';
  EXPECT_FALSE(store.verify());
  const_cast<char*>(h.key.data())[1] = 'k';
  EXPECT_TRUE(store.verify());
  store.release(h);
  store.abort(open);
  EXPECT_TRUE(store.verify());
}

// --- round trip, replacement -------------------------------------------------------------------

TEST_F(CacheStoreTest, PublishThenLookupRoundTrip) {
  EXPECT_GT(initial.free_bytes, 60'000u);
  EXPECT_EQ(initial.entries, 0u);
  EntryMeta meta;
  meta.status = 301;
  meta.flags = 5;
  meta.response_time = 1000;
  meta.fresh_until = 1060;
  meta.stale_until = 1160;
  meta.initial_age = 3;
  Slot slot = store.reserve("GET /x", meta, 5, 3);
  ASSERT_TRUE(slot.valid());
  std::memcpy(slot.headers, "hdrs!", 5);
  std::memcpy(slot.body, "abc", 3);
  ASSERT_TRUE(store.publish(slot, 3));
  EXPECT_FALSE(slot.valid());

  Handle h = store.lookup("GET /x");
  ASSERT_TRUE(h.valid());
  EXPECT_EQ(h.key, "GET /x");
  EXPECT_EQ(h.headers, "hdrs!");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.body), h.body_size), "abc");
  EXPECT_EQ(h.meta.status, 301u);
  EXPECT_EQ(h.meta.flags, 5u);
  EXPECT_EQ(h.meta.response_time, 1000);
  EXPECT_EQ(h.meta.fresh_until, 1060);
  EXPECT_EQ(h.meta.stale_until, 1160);
  EXPECT_EQ(h.meta.initial_age, 3u);
  store.release(h);
  EXPECT_FALSE(h.valid());

  EXPECT_FALSE(store.lookup("GET /y").valid());
  EXPECT_FALSE(store.lookup("GET /x ").valid());
  const StoreStats s = store.stats();
  EXPECT_EQ(s.stores, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_GT(s.stored_bytes, 0u);
  EXPECT_EQ(s.free_bytes + s.stored_bytes, initial.free_bytes);
}

TEST_F(CacheStoreTest, EmptyKeyAndEmptyBody) {
  ASSERT_TRUE(put(store, "", 1, 0));
  Handle h = store.lookup("");
  EXPECT_TRUE(intact(h, ""));
  EXPECT_EQ(h.body_size, 0u);
  store.release(h);
}

TEST_F(CacheStoreTest, ReservationIsInvisibleUntilPublishedAndAbortFreesIt) {
  Slot slot = store.reserve("/r", EntryMeta(), 0, 1000);
  ASSERT_TRUE(slot.valid());
  EXPECT_FALSE(has("/r"));
  EXPECT_GT(store.stats().reserved_bytes, 1000u);
  store.abort(slot);
  EXPECT_FALSE(slot.valid());
  EXPECT_FALSE(has("/r"));
  const StoreStats s = store.stats();
  EXPECT_EQ(s.reserved_bytes, 0u);
  EXPECT_EQ(s.free_bytes, initial.free_bytes);
  EXPECT_EQ(s.largest_free, initial.largest_free);
}

TEST_F(CacheStoreTest, PublishReturnsTheUnusedTail) {
  Slot slot = store.reserve("/big", EntryMeta(), 0, 20'000);
  ASSERT_TRUE(slot.valid());
  std::memset(slot.body, 'x', 10);
  ASSERT_TRUE(store.publish(slot, 10));
  const StoreStats s = store.stats();
  EXPECT_LT(s.stored_bytes, 300u);
  EXPECT_EQ(s.free_bytes + s.stored_bytes, initial.free_bytes);
}

TEST_F(CacheStoreTest, PublishRefusesMoreBodyThanReserved) {
  Slot slot = store.reserve("/k", EntryMeta(), 0, 10);
  ASSERT_TRUE(slot.valid());
  EXPECT_FALSE(store.publish(slot, 11));
  EXPECT_FALSE(has("/k"));
  EXPECT_EQ(store.stats().free_bytes, initial.free_bytes);
}

TEST_F(CacheStoreTest, TooLargeReservationFails) {
  EXPECT_FALSE(store.reserve("/k", EntryMeta(), 0, memory_.size()).valid());
  EXPECT_FALSE(store.reserve("/k", EntryMeta(), SIZE_MAX, 1).valid());
  EXPECT_FALSE(store.reserve("/k", EntryMeta(), 1, SIZE_MAX).valid());
  EXPECT_EQ(store.stats().reserve_failures, 3u);
  // The largest advertised entry does fit.
  const Slot slot = store.reserve("", EntryMeta(), 0, initial.largest_free);
  EXPECT_TRUE(slot.valid());
}

TEST_F(CacheStoreTest, PublishReplacesAndPinnedOldVersionStaysReadable) {
  ASSERT_TRUE(put(store, "/k", 1, 3000));
  Handle old = store.lookup("/k");
  ASSERT_TRUE(intact(old, "/k"));
  ASSERT_TRUE(put(store, "/k", 2, 2000));

  Handle fresh = store.lookup("/k");
  ASSERT_TRUE(intact(fresh, "/k"));
  EXPECT_EQ(fresh.meta.fresh_until, 2);
  EXPECT_EQ(fresh.body_size, 2000u);
  // The replaced entry is out of the index but its bytes are untouched while pinned.
  EXPECT_EQ(old.meta.fresh_until, 1);
  EXPECT_TRUE(intact(old, "/k"));
  StoreStats s = store.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.zombies, 1u);
  EXPECT_EQ(s.stores, 2u);
  EXPECT_TRUE(store.verify());

  store.release(old);
  store.release(fresh);
  s = store.stats();
  EXPECT_EQ(s.zombies, 0u);
  EXPECT_EQ(store.purge_all(), 1u);
  s = store.stats();
  EXPECT_EQ(s.free_bytes, initial.free_bytes);
  EXPECT_EQ(s.largest_free, initial.largest_free);
}

TEST_F(CacheStoreTest, ReplacementWithoutPinsFreesTheOldBlockAtOnce) {
  ASSERT_TRUE(put(store, "/k", 1, 3000));
  ASSERT_TRUE(put(store, "/k", 2, 3000));
  const StoreStats s = store.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.zombies, 0u);
  EXPECT_EQ(s.free_bytes + s.stored_bytes, initial.free_bytes);
}

// --- eviction ----------------------------------------------------------------------------------

std::string key_n(int n) {
  return "/item/" + std::to_string(n);
}

TEST_F(CacheStoreTest, EvictsLeastRecentlyUsedAndKeepsSurvivorsIntact) {
  constexpr std::size_t kBody = 4000;
  int stored = 0;
  while (store.stats().evictions == 0) {
    ASSERT_TRUE(put(store, key_n(stored), 1, kBody));
    ++stored;
    ASSERT_LT(stored, 100);
  }
  // The last put needed room: the oldest went first, and only as many as needed.
  const int fit = stored - 1;
  ASSERT_GE(fit, 5);
  EXPECT_FALSE(has(key_n(0)));
  EXPECT_EQ(store.stats().evictions, 1u);
  // Using item 1 makes item 2 the least recently used.
  EXPECT_TRUE(has(key_n(1)));
  ASSERT_TRUE(put(store, key_n(stored), 1, kBody));
  ++stored;
  EXPECT_TRUE(has(key_n(1)));
  EXPECT_FALSE(has(key_n(2)));
  EXPECT_TRUE(has(key_n(3)));
  EXPECT_EQ(store.stats().evictions, 2u);

  std::size_t survivors = 0;
  for (int i = 0; i < stored; ++i) {
    Handle h = store.lookup(key_n(i));
    if (h.valid()) {
      EXPECT_TRUE(intact(h, key_n(i)));
      ++survivors;
    }
    store.release(h);
  }
  EXPECT_EQ(survivors, store.stats().entries);
  EXPECT_EQ(survivors, static_cast<std::size_t>(fit));
  EXPECT_TRUE(store.verify());
}

TEST_F(CacheStoreTest, PinnedEntrySurvivesEvictionAndIsFreedOnRelease) {
  ASSERT_TRUE(put(store, "/pinned", 7, 5000));
  Handle pinned = store.lookup("/pinned");
  ASSERT_TRUE(pinned.valid());
  // Enough new entries to cycle the whole zone several times.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(put(store, key_n(i), 1, 4000)) << i;
  StoreStats s = store.stats();
  EXPECT_TRUE(store.verify());
  EXPECT_GT(s.evictions, 40u);
  EXPECT_EQ(s.zombies, 1u);
  EXPECT_FALSE(has("/pinned"));
  EXPECT_TRUE(intact(pinned, "/pinned"));
  EXPECT_EQ(pinned.body_size, 5000u);

  store.release(pinned);
  EXPECT_EQ(store.stats().zombies, 0u);
  EXPECT_GT(store.purge_all(), 0u);
  s = store.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.stored_bytes, 0u);
  EXPECT_EQ(s.free_bytes, initial.free_bytes);
  EXPECT_EQ(s.largest_free, initial.largest_free);
}

TEST_F(CacheStoreTest, HopelessReservationEvictsNothing) {
  ASSERT_TRUE(put(store, "/keep", 1, 1000));
  Slot big = store.reserve("/big", EntryMeta(), 0, initial.largest_free - 3000);
  ASSERT_TRUE(big.valid());
  EXPECT_EQ(store.stats().evictions, 0u);
  // Only /keep could be evicted, and its block is far smaller than this.
  EXPECT_FALSE(store.reserve("/x", EntryMeta(), 0, 10'000).valid());
  EXPECT_TRUE(has("/keep"));
  EXPECT_EQ(store.stats().evictions, 0u);
  store.abort(big);
  EXPECT_TRUE(store.verify());
}

TEST_F(CacheStoreTest, ReservationFailsWhenPinnedEntriesLeaveNoRoom) {
  std::vector<Handle> pins;
  for (int i = 0;; ++i) {
    if (!put(store, key_n(i), 1, 8000) || store.stats().evictions > 0) break;
    pins.push_back(store.lookup(key_n(i)));
  }
  // Everything that was evicted stays readable; nothing big fits any more.
  const std::uint64_t failures = store.stats().reserve_failures;
  EXPECT_FALSE(store.reserve("/x", EntryMeta(), 0, 30'000).valid());
  EXPECT_EQ(store.stats().reserve_failures, failures + 1);
  for (std::size_t i = 0; i < pins.size(); ++i) {
    EXPECT_TRUE(intact(pins[i], key_n(static_cast<int>(i))));
    store.release(pins[i]);
  }
  store.purge_all();
  EXPECT_EQ(store.stats().free_bytes, initial.free_bytes);
}

// --- purge -------------------------------------------------------------------------------------

TEST_F(CacheStoreTest, PurgeExactPrefixAndAllCount) {
  for (const char* key : {"/a/1", "/a/2", "/a/3", "/ab", "/b/1", "/b/2"}) {
    ASSERT_TRUE(put(store, key, 1, 100));
  }
  EXPECT_TRUE(store.purge_exact("/a/1"));
  EXPECT_FALSE(store.purge_exact("/a/1"));
  EXPECT_FALSE(store.purge_exact("/a/"));
  EXPECT_FALSE(has("/a/1"));
  EXPECT_EQ(store.purge_prefix("/a/"), 2u);
  EXPECT_TRUE(has("/ab"));
  EXPECT_TRUE(store.verify());
  EXPECT_EQ(store.purge_prefix("/zzz"), 0u);
  EXPECT_EQ(store.purge_all(), 3u);
  EXPECT_EQ(store.purge_all(), 0u);
  const StoreStats s = store.stats();
  EXPECT_EQ(s.purged, 6u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.free_bytes, initial.free_bytes);
}

TEST_F(CacheStoreTest, PurgeOfPinnedEntryWaitsForRelease) {
  ASSERT_TRUE(put(store, "/p", 3, 1000));
  Handle h = store.lookup("/p");
  EXPECT_EQ(store.purge_prefix("/"), 1u);
  EXPECT_FALSE(has("/p"));
  EXPECT_TRUE(intact(h, "/p"));
  EXPECT_EQ(store.stats().zombies, 1u);
  store.release(h);
  EXPECT_EQ(store.stats().free_bytes, initial.free_bytes);
}

// --- counters and fill locks -------------------------------------------------------------------

TEST_F(CacheStoreTest, RecordsOutcomes) {
  store.record(Outcome::hit);
  store.record(Outcome::hit);
  store.record(Outcome::miss);
  store.record(Outcome::stale);
  const StoreStats s = store.stats();
  EXPECT_EQ(s.outcomes[static_cast<int>(Outcome::hit)], 2u);
  EXPECT_EQ(s.outcomes[static_cast<int>(Outcome::miss)], 1u);
  EXPECT_EQ(s.outcomes[static_cast<int>(Outcome::bypass)], 0u);
  EXPECT_EQ(s.outcomes[static_cast<int>(Outcome::stale)], 1u);
}

TEST_F(CacheStoreTest, FillLockFirstCallerWinsUntilEndOrTimeout) {
  const std::uint64_t k = store.key_hash("/k");
  const std::uint64_t other = store.key_hash("/other");
  EXPECT_TRUE(store.try_begin_fill(k, 1000, 5000));
  EXPECT_FALSE(store.try_begin_fill(k, 1001, 5000));
  EXPECT_FALSE(store.try_begin_fill(k, 5999, 5000));
  EXPECT_TRUE(store.try_begin_fill(other, 1001, 5000));
  // The winner crashed: its lock expires and the next caller takes over.
  EXPECT_TRUE(store.try_begin_fill(k, 6000, 5000));
  EXPECT_FALSE(store.try_begin_fill(k, 6001, 5000));
  store.end_fill(k);
  EXPECT_TRUE(store.try_begin_fill(k, 6002, 5000));
  // A huge timeout saturates instead of wrapping into the past.
  EXPECT_TRUE(store.try_begin_fill(7, 10, UINT64_MAX));
  EXPECT_FALSE(store.try_begin_fill(7, 11, UINT64_MAX));
}

TEST_F(CacheStoreTest, FillLocksDegradeToNoCollapsingWhenAllSlotsAreTaken) {
  for (std::uint64_t i = 0; i < kFillSlots; ++i) {
    ASSERT_TRUE(store.try_begin_fill(1000 + i, 0, 100));
  }
  EXPECT_FALSE(store.try_begin_fill(1000, 1, 100));
  EXPECT_TRUE(store.try_begin_fill(5, 1, 100));
  EXPECT_TRUE(store.try_begin_fill(5, 1, 100));
  // Once they expire, slots are reused.
  EXPECT_TRUE(store.try_begin_fill(5, 200, 100));
  EXPECT_FALSE(store.try_begin_fill(5, 201, 100));
}

// --- threads -----------------------------------------------------------------------------------

// Four threads store, look up, replace, abort and purge 48 keys in a 128 KiB zone where bodies
// of up to 6 KiB force constant eviction; every hit is checked byte by byte against what was
// stored for its key and version, and at the end every byte is back on the free list.
TEST(CacheStoreThreads, ConcurrentUseNeverServesWrongBytesAndLeaksNothing) {
  ZoneMemory memory(128 * 1024);
  CacheStore store = CacheStore::create(memory.data(), memory.size(), 99);
  ASSERT_TRUE(store.valid());
  const StoreStats initial = store.stats();
  constexpr int kThreads = 4;
  constexpr int kOps = 20'000;
  constexpr int kKeys = 48;
  std::atomic<std::uint64_t> next_version{1};
  std::atomic<int> bad{0};
  std::atomic<int> hits{0};

  auto worker = [&](int seed) {
    std::mt19937 rng(static_cast<unsigned>(seed));
    std::vector<Handle> held;
    for (int op = 0; op < kOps; ++op) {
      const std::string key = key_n(static_cast<int>(rng() % kKeys));
      const auto dice = rng() % 1000;
      if (dice < 650) {
        Handle h = store.lookup(key);
        if (h.valid()) {
          hits.fetch_add(1, std::memory_order_relaxed);
          const auto version = static_cast<std::uint64_t>(h.meta.fresh_until);
          if (!intact(h, key) || h.body_size != body_size_for(key, version, 6000)) {
            bad.fetch_add(1);
          }
          // Hold some handles across later operations, like a slow client.
          if (rng() % 8 == 0) {
            held.push_back(h);
          } else {
            store.release(h);
          }
        }
      } else if (dice < 950) {
        const std::uint64_t version = next_version.fetch_add(1);
        const std::size_t size = body_size_for(key, version, 6000);
        EntryMeta meta;
        meta.fresh_until = static_cast<std::int64_t>(version);
        const std::string headers = header_text(version);
        Slot slot = store.reserve(key, meta, headers.size(), size + rng() % 512);
        if (slot.valid()) {
          std::memcpy(slot.headers, headers.data(), headers.size());
          for (std::size_t i = 0; i < size; ++i) slot.body[i] = body_byte(key, version, i);
          if (rng() % 10 == 0) {
            store.abort(slot);
          } else {
            store.publish(slot, size);
          }
        }
      } else if (dice < 990) {
        store.purge_exact(key);
      } else {
        store.purge_prefix(key.substr(0, 7));
      }
      if (held.size() > 3) {
        for (Handle& h : held) {
          if (!intact(h, std::string(h.key))) bad.fetch_add(1);
          store.release(h);
        }
        held.clear();
      }
    }
    for (Handle& h : held) store.release(h);
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t + 1);
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(hits.load(), 1000);
  EXPECT_TRUE(store.verify());
  StoreStats s = store.stats();
  EXPECT_GT(s.evictions, 100u);
  EXPECT_EQ(s.zombies, 0u);
  EXPECT_EQ(s.reserved_bytes, 0u);
  EXPECT_EQ(s.free_bytes + s.stored_bytes, initial.free_bytes);
  store.purge_all();
  s = store.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.free_bytes, initial.free_bytes);
  EXPECT_EQ(s.largest_free, initial.largest_free);
}

}  // namespace
}  // namespace captain::cache
