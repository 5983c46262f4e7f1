// The response cache's store: variable-size immutable entries in one shared-memory region.
//
// The region is mapped at different addresses in different nginx workers, so everything in it
// is plain data addressed by offsets from the region's start; handles and slots hold this
// process's pointers and never go into the region.
//
// Layout: StoreHeader | hash index (bucket_count offsets) | fill-lock slots | heap.
// The heap is a sequence of blocks, each a 16-byte header (size | used bit, previous block's
// size) and a payload. Free blocks sit on one doubly linked free list (first fit); freeing
// coalesces with both neighbours through the size fields, so no space is lost to
// fragmentation once the neighbours are free. A used block holds one entry:
//   EntryHeader | key bytes | header bytes | body bytes.
//
// Concurrency: one spinlock in the header guards the index, the LRU list, the allocator, the
// pin counts and the fill locks. It is held only for bookkeeping (a hash chain walk with key
// compares, a few list splices, a first-fit scan), never while the caller copies headers or a
// body: a reservation is private to its writer until publish(), and a published entry never
// changes, so readers copy from it without the lock. An entry is pinned while a handle to it is
// out; one that is evicted, purged or replaced while pinned leaves the index at once (no new
// reader finds it) and its block is freed by the release of the last pin.
// The lock records its holder (shm_lock.h). A worker that dies holding it cannot wedge the zone:
// the next worker to want it takes it over and checks the whole structure (verify()); if the
// dead holder left it half-changed, the store is formatted again (a cache may forget) and its
// epoch advances, which voids every handle and reservation taken before: their release() reports
// that the bytes may have changed under the reader, and their publish() stores nothing.
// A worker that dies between reserve() and publish() leaves its reservation behind; it is
// reclaimed when reservations crowd out new entries (the writer's id is recorded and found
// gone). A worker that dies while pinning an entry leaves that entry pinned until the next
// format; the pin is held only while a hit is copied.
// A waiter that cannot get the lock within its budget (a live holder stuck that long) gives up:
// the operation acts as if the cache were empty (a miss, a failed reservation) and is counted.
//
// Eviction is exact LRU: every hit already takes the lock to pin the entry, so moving it to
// the front of a doubly linked list costs two splices more. When an allocation does not fit,
// entries are evicted from the least recently used end until a freed (coalesced) block is big
// enough or nothing is left.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace captain::cache {

inline constexpr std::uint32_t kStoreMagic = 0x435a4343;  // "CCZC"
inline constexpr std::uint32_t kStoreLayoutVersion = 2;   // bump when any layout below changes
inline constexpr std::size_t kFillSlots = 256;

// What the caller keeps with an entry besides its bytes; the store only copies it. The times
// are on the caller's clock (the glue uses Unix seconds, see freshness.h).
struct EntryMeta {
  std::uint32_t status = 0;
  std::uint32_t flags = 0;  // caller-defined (cache_key.h: kEntryVaryMarker)
  std::int64_t response_time = 0;
  std::int64_t fresh_until = 0;
  std::int64_t stale_until = 0;  // stale-if-error deadline
  std::uint64_t initial_age = 0;
};

// Request outcomes the glue records; the store counts them lock-free.
enum class Outcome : std::uint8_t { hit = 0, miss, bypass, expired, stale };
inline constexpr std::size_t kOutcomeCount = 5;

struct StoreStats {
  std::uint64_t outcomes[kOutcomeCount] = {};
  std::uint64_t stores = 0;     // entries published
  std::uint64_t evictions = 0;  // live entries pushed out for space
  std::uint64_t purged = 0;     // entries removed by purge_*
  std::uint64_t reserve_failures = 0;
  std::uint64_t entries = 0;       // live (findable) entries
  std::uint64_t stored_bytes = 0;  // their blocks, headers included
  std::uint64_t zombies = 0;       // removed but still pinned by a reader
  std::uint64_t reserved_bytes = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t largest_free = 0;  // the biggest entry that fits without evicting
  std::uint64_t heap_bytes = 0;
  std::uint64_t lock_recoveries = 0;  // locks taken over from a dead holder
  std::uint64_t formats = 0;          // of those, the ones that found damage and formatted again
  std::uint64_t lock_timeouts = 0;    // operations that gave up waiting for a live holder
  std::uint64_t reservations_reclaimed = 0;  // dead writers' reservations freed
};

// A reservation: memory only its writer sees until publish() or abort().
struct Slot {
  std::uint64_t entry = 0;  // offset of the block; 0: no reservation
  std::uint64_t epoch = 0;  // the store's format it belongs to
  unsigned char* headers = nullptr;
  std::size_t header_size = 0;
  unsigned char* body = nullptr;
  std::size_t body_capacity = 0;
  bool valid() const { return entry != 0; }
};

// A pinned, immutable entry; valid until release().
struct Handle {
  std::uint64_t entry = 0;  // 0: not found
  std::uint64_t epoch = 0;  // the store's format it belongs to
  std::string_view key;
  std::string_view headers;
  const unsigned char* body = nullptr;
  std::size_t body_size = 0;
  EntryMeta meta;
  bool valid() const { return entry != 0; }
};

struct StoreHeader;

// A view of a store's region; cheap to copy, owns nothing.
class CacheStore {
 public:
  // The smallest region that formats (header, index, fill slots and a little heap).
  static std::size_t min_size();

  // Formats `size` bytes at `base` (64-byte aligned) as an empty store.
  static CacheStore create(void* base, std::size_t size, std::uint64_t seed);
  // Adopts a store formatted by create() with this layout version and size, or returns an
  // invalid store.
  static CacheStore attach(void* base, std::size_t size);
  // attach() if the region holds this layout, else create(): what a reload or a restart with a
  // changed layout does.
  static CacheStore open(void* base, std::size_t size, std::uint64_t seed);

  CacheStore() = default;
  bool valid() const { return header_ != nullptr; }

  // The seeded 64-bit hash that indexes `key`, for the fill locks.
  std::uint64_t key_hash(std::string_view key) const;

  // A writable entry for `key` with room for the given headers and body, evicting least
  // recently used entries if needed; invalid if it cannot fit. The key is already copied.
  Slot reserve(std::string_view key, const EntryMeta& meta, std::size_t header_size,
               std::size_t body_capacity);
  // Makes the entry visible with `body_size` <= body_capacity bytes of body (the unused tail
  // is returned to the heap) and removes any older entry for the key. Invalidates `slot`.
  bool publish(Slot& slot, std::size_t body_size);
  void abort(Slot& slot);

  // The live entry for `key`, pinned and moved to the LRU front; counts nothing (record()).
  Handle lookup(std::string_view key);
  // Unpins. False if the store was formatted again since lookup(): bytes copied from the handle
  // may have been overwritten meanwhile and must not be served.
  bool release(Handle& handle);

  bool purge_exact(std::string_view key);
  std::size_t purge_prefix(std::string_view prefix);
  std::size_t purge_all();

  void record(Outcome outcome);
  StoreStats stats() const;

  // Walks the whole region under the lock and checks every structural invariant (block sizes
  // and neighbours, no two adjacent free blocks, free list, index, LRU list, counters). It costs
  // a full scan: run by tests, the status endpoint's verify query and a lock takeover.
  bool verify() const;

  // Collapsing concurrent misses: the first caller for a key gets true and fetches; others get
  // false until end_fill() or until `timeout_ms` after the winner began (a crashed winner must
  // not wedge the key). When all fill slots are busy every caller gets true (no collapsing,
  // never blocking). end_fill() clears the key's lock whoever holds it: a winner that outlived
  // its timeout may end a successor's fill early, which only sends waiters upstream sooner.
  bool try_begin_fill(std::uint64_t key_hash, std::uint64_t now_ms, std::uint64_t timeout_ms);
  void end_fill(std::uint64_t key_hash);

 private:
  explicit CacheStore(StoreHeader* header) : header_(header) {}
  StoreHeader* header_ = nullptr;
};

}  // namespace captain::cache
