// The cache store when a worker dies: real child processes sharing the zone are killed while
// they hold its lock (untouched, or after scribbling over the zone), while they hold a
// reservation, and at random instants in a loop of operations. Afterwards the zone verifies, what
// it serves is intact, and nothing waits forever.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "ngx_module/core/cache/cache_store.h"
#include "ngx_module/core/shm_lock.h"
#include "tests/unit/cache_test_entries.h"

namespace captain::cache {
namespace {

// An anonymous shared mapping standing in for an nginx zone: forked children see the parent's.
class SharedZone {
 public:
  explicit SharedZone(std::size_t bytes)
      : bytes_(bytes),
        data_(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) {}
  ~SharedZone() { munmap(data_, bytes_); }
  SharedZone(const SharedZone&) = delete;
  SharedZone& operator=(const SharedZone&) = delete;
  void* data() const { return data_; }
  std::size_t size() const { return bytes_; }

 private:
  std::size_t bytes_;
  void* data_;
};

// Runs `body` in a child process and waits for it to end (killed or not).
template <typename Body>
void in_child(Body body) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
}

void die() {
  raise(SIGKILL);
}

// Where the scribbling hook writes: everything past the store's first page (its header, which
// holds the lock word, stays), as a holder killed halfway through relinking lists might leave it.
unsigned char* scribble_from = nullptr;
unsigned char* scribble_to = nullptr;
void scribble_and_die() {
  std::memset(scribble_from, 0x5a, static_cast<std::size_t>(scribble_to - scribble_from));
  raise(SIGKILL);
}

TEST(CacheStoreFaults, HolderKilledInsideTheLockDoesNotWedgeTheZone) {
  SharedZone zone(256 * 1024);
  CacheStore store = CacheStore::create(zone.data(), zone.size(), 7);
  ASSERT_TRUE(put(store, "a", 1, 100));
  in_child([&] {
    set_lock_fault_hook(die);
    store.lookup("a");
  });
  Handle h = store.lookup("a");  // would spin forever on a lock without a holder
  EXPECT_TRUE(intact(h, "a"));
  EXPECT_TRUE(store.release(h));
  EXPECT_TRUE(store.verify());
  const StoreStats s = store.stats();
  EXPECT_EQ(s.lock_recoveries, 1u);
  EXPECT_EQ(s.formats, 0u);  // nothing was half-changed: the contents stay
  EXPECT_EQ(s.entries, 1u);
}

TEST(CacheStoreFaults, DamageLeftByADeadHolderEmptiesTheZoneAndVoidsOldHandles) {
  SharedZone zone(256 * 1024);
  CacheStore store = CacheStore::create(zone.data(), zone.size(), 7);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(put(store, "k" + std::to_string(i), 1, 500));
  Handle pinned = store.lookup("k3");
  ASSERT_TRUE(pinned.valid());
  EntryMeta meta;
  Slot pending = store.reserve("new", meta, 0, 100);
  ASSERT_TRUE(pending.valid());

  scribble_from = static_cast<unsigned char*>(zone.data()) + 4096;
  scribble_to = static_cast<unsigned char*>(zone.data()) + zone.size();
  in_child([&] {
    set_lock_fault_hook(scribble_and_die);
    store.lookup("k1");
  });

  EXPECT_FALSE(store.lookup("k1").valid());  // the takeover found the damage and emptied it
  EXPECT_TRUE(store.verify());
  StoreStats s = store.stats();
  EXPECT_EQ(s.lock_recoveries, 1u);
  EXPECT_EQ(s.formats, 1u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.stores, 20u);  // cumulative counters survive the format
  // Bytes copied through a handle from before the format must not be served...
  EXPECT_FALSE(store.release(pinned));
  // ...and a reservation from before it stores nothing.
  EXPECT_FALSE(store.publish(pending, 0));
  EXPECT_FALSE(store.lookup("new").valid());
  EXPECT_TRUE(put(store, "k1", 2, 500));
  Handle h = store.lookup("k1");
  EXPECT_TRUE(intact(h, "k1"));
  EXPECT_TRUE(store.release(h));
  EXPECT_TRUE(store.verify());
}

TEST(CacheStoreFaults, ReservationOfADeadWriterIsReclaimedWhenItKeepsEntriesOut) {
  SharedZone zone(64 * 1024);
  CacheStore store = CacheStore::create(zone.data(), zone.size(), 7);
  const std::size_t big = store.stats().largest_free - 64;
  in_child([&] {
    EntryMeta meta;
    Slot slot = store.reserve("abandoned", meta, 0, big);
    if (!slot.valid()) _exit(1);
    raise(SIGKILL);
  });
  ASSERT_GT(store.stats().reserved_bytes, big);
  // Our own reservations are never taken for a dead writer's.
  EntryMeta meta;
  Slot mine = store.reserve("mine", meta, 0, 64);
  ASSERT_TRUE(mine.valid());
  EXPECT_TRUE(put(store, "big", 1, big - 256));
  const StoreStats s = store.stats();
  EXPECT_EQ(s.reservations_reclaimed, 1u);
  EXPECT_TRUE(store.publish(mine, 64));
  EXPECT_TRUE(store.lookup("mine").valid());
  EXPECT_TRUE(store.verify());
}

// A live holder that keeps the lock past the budget: the waiter gives up (a miss) and counts it.
TEST(CacheStoreFaults, LiveHolderPastTheBudgetMakesAMissNotAHang) {
  SharedZone zone(64 * 1024);
  CacheStore store = CacheStore::create(zone.data(), zone.size(), 7);
  ASSERT_TRUE(put(store, "a", 1, 10));
  static std::atomic<bool> holding{false};
  static std::atomic<bool> release_holder{false};
  holding = false;
  release_holder = false;
  std::thread holder([&] {
    set_lock_fault_hook([] {
      holding = true;
      while (!release_holder) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    Handle h = store.lookup("a");
    store.release(h);
  });
  while (!holding) std::this_thread::yield();
  set_lock_fault_hook(nullptr);  // the holder is already inside it
  EXPECT_FALSE(store.lookup("a").valid());
  release_holder = true;
  holder.join();
  EXPECT_EQ(store.stats().lock_timeouts, 1u);
  EXPECT_TRUE(store.verify());
}

// Children doing random stores, lookups and purges are killed at random instants, inside and
// outside the lock. After every kill the zone answers, verifies, and every hit is intact.
TEST(CacheStoreFaults, WorkersKilledAtRandomInstantsLeaveAVerifyingZone) {
  SharedZone zone(192 * 1024);
  CacheStore store = CacheStore::create(zone.data(), zone.size(), 7);
  std::mt19937_64 rng(20261207);
  constexpr int kRounds = 150;
  constexpr int kKeys = 48;
  for (int round = 0; round < kRounds; ++round) {
    const std::uint64_t seed = rng();
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::mt19937_64 child_rng(seed);
      for (std::uint64_t version = 1;; ++version) {
        const std::string key = "k" + std::to_string(child_rng() % kKeys);
        switch (child_rng() % 8) {
          case 0:
            store.purge_exact(key);
            break;
          case 1:
            if (child_rng() % 16 == 0) store.purge_prefix("k1");
            break;
          case 2:
          case 3: {
            Handle h = store.lookup(key);
            store.release(h);
            break;
          }
          default:
            put(store, key, version, body_size_for(key, version, 3000));
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 3000));
    kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);

    for (int k = 0; k < kKeys; ++k) {
      const std::string key = "k" + std::to_string(k);
      Handle h = store.lookup(key);
      if (!h.valid()) continue;
      ASSERT_TRUE(intact(h, key)) << "round " << round;
      ASSERT_TRUE(store.release(h));
    }
    ASSERT_TRUE(store.verify()) << "round " << round;
  }
  // Storing still works: dead writers' reservations do not fill the zone for good.
  EXPECT_TRUE(put(store, "after", 1, 4000));
  const StoreStats s = store.stats();
  RecordProperty("lock_recoveries", static_cast<int>(s.lock_recoveries));
  RecordProperty("formats", static_cast<int>(s.formats));
  std::printf(
      "kills: %d, lock takeovers: %llu (zone emptied: %llu), reservations reclaimed: %llu\n",
      kRounds, static_cast<unsigned long long>(s.lock_recoveries),
      static_cast<unsigned long long>(s.formats),
      static_cast<unsigned long long>(s.reservations_reclaimed));
}

}  // namespace
}  // namespace captain::cache
