// The cache store: region layout, the first-fit allocator, the index and LRU list, pins.
#include "ngx_module/core/cache/cache_store.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "ngx_module/core/cache/cache_key.h"
#include "ngx_module/core/shm_lock.h"

namespace captain::cache {

// The region is shared by worker processes: an atomic that needed a lock would take a lock
// private to one process and protect nothing.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "counters must be lock-free");

struct alignas(64) StoreHeader {
  std::uint32_t magic;
  std::uint32_t layout_version;
  std::uint64_t region_size;
  std::uint64_t seed;
  std::uint64_t bucket_count;  // a power of two
  std::uint64_t buckets_offset;
  std::uint64_t fills_offset;
  std::uint64_t heap_begin;
  std::uint64_t heap_end;

  alignas(64) ShmLockWord lock;
  // Everything below the lock is read and written only while holding it.
  std::uint64_t epoch;      // advances each time the store is formatted again after damage
  std::uint64_t free_head;  // first free block, 0: none
  std::uint64_t lru_head;   // most recently used entry
  std::uint64_t lru_tail;   // least recently used entry
  std::uint64_t entries;
  std::uint64_t stored_bytes;
  std::uint64_t zombies;
  std::uint64_t reserved_bytes;
  std::uint64_t free_bytes;
  std::uint64_t stores;
  std::uint64_t evictions;
  std::uint64_t purged;
  std::uint64_t reserve_failures;
  std::uint64_t lock_recoveries;
  std::uint64_t formats;
  std::uint64_t reservations_reclaimed;

  alignas(64) std::atomic<std::uint64_t> outcomes[kOutcomeCount];
  std::atomic<std::uint64_t> lock_timeouts;
};

namespace {

// --- layout ------------------------------------------------------------------------------------

constexpr std::uint64_t kAlign = 16;
constexpr std::uint64_t kUsed = 1;

struct BlockHeader {
  std::uint64_t size_flags;  // block size (multiple of 16, header included) | kUsed
  std::uint64_t prev_size;   // size of the block just below; 0 for the first block
};

// The payload of a free block.
struct FreeLinks {
  std::uint64_t next;
  std::uint64_t prev;
};

enum EntryState : std::uint32_t { kReserved = 1, kLive = 2, kZombie = 3 };

// The payload of a used block.
struct EntryHeader {
  std::uint64_t key_hash;
  std::uint64_t chain_next;  // next entry in the same index bucket
  std::uint64_t lru_prev;    // towards the most recently used
  std::uint64_t lru_next;    // towards the least recently used
  EntryMeta meta;
  std::uint64_t body_size;
  std::uint64_t body_capacity;
  std::uint32_t key_size;
  std::uint32_t header_size;
  std::uint32_t pins;
  std::uint32_t state;
  std::uint32_t writer;  // thread id of the reserving worker, while kReserved
  std::uint32_t unused;
};

constexpr std::uint64_t kBlockHeaderSize = sizeof(BlockHeader);
constexpr std::uint64_t kMinBlock = kBlockHeaderSize + sizeof(FreeLinks);
constexpr std::uint64_t kEntryOverhead = kBlockHeaderSize + sizeof(EntryHeader);
static_assert(sizeof(BlockHeader) % kAlign == 0 && sizeof(EntryHeader) % 8 == 0);

struct FillSlot {
  std::uint64_t key_hash;
  std::uint64_t deadline_ms;  // 0: free
};

constexpr std::uint64_t align_up(std::uint64_t n, std::uint64_t a) {
  return (n + a - 1) / a * a;
}

// One bucket per KiB of region, a power of two in [16, 2^24]: chains stay short for entries of
// a KiB and up, and the index costs under 1% of the region.
std::uint64_t bucket_count_for(std::size_t size) {
  std::uint64_t n = 16;
  while (n < (std::uint64_t{1} << 24) && n * 2 * 1024 <= size) n *= 2;
  return n;
}

struct Layout {
  std::uint64_t bucket_count = 0;
  std::uint64_t buckets_offset = 0;
  std::uint64_t fills_offset = 0;
  std::uint64_t heap_begin = 0;
  std::uint64_t heap_end = 0;
};

// The heap gets at least a few minimal entries, or the region is refused.
constexpr std::uint64_t kMinHeap = 4096;

bool layout_for(std::size_t size, Layout& out) {
  out.bucket_count = bucket_count_for(size);
  out.buckets_offset = align_up(sizeof(StoreHeader), 64);
  out.fills_offset = align_up(out.buckets_offset + out.bucket_count * 8, 64);
  out.heap_begin = align_up(out.fills_offset + kFillSlots * sizeof(FillSlot), 64);
  out.heap_end = size / kAlign * kAlign;
  return out.heap_end >= out.heap_begin && out.heap_end - out.heap_begin >= kMinHeap;
}

bool is_aligned(const void* base) {
  return reinterpret_cast<std::uintptr_t>(base) % alignof(StoreHeader) == 0;
}

// --- the lock ----------------------------------------------------------------------------------

void repair(StoreHeader* h);

// Holds the store's lock for a scope. held() is false when a live holder kept it past the
// budget: the caller then does nothing to the store. A lock taken over from a dead holder is
// repaired before the caller sees the store.
class Locked {
 public:
  explicit Locked(StoreHeader* h) : h_(h), result_(shm_lock_acquire(h->lock)) {
    if (result_ == LockResult::recovered) repair(h_);
    if (result_ == LockResult::busy) h_->lock_timeouts.fetch_add(1, std::memory_order_relaxed);
  }
  ~Locked() {
    if (held()) shm_lock_release(h_->lock);
  }
  bool held() const { return result_ != LockResult::busy; }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  StoreHeader* h_;
  LockResult result_;
};

// --- the region, while locked ------------------------------------------------------------------

class Region {
 public:
  explicit Region(StoreHeader* h) : h_(h), base_(reinterpret_cast<unsigned char*>(h)) {}

  unsigned char* at(std::uint64_t offset) const { return base_ + offset; }
  BlockHeader& block(std::uint64_t b) const { return *reinterpret_cast<BlockHeader*>(at(b)); }
  FreeLinks& links(std::uint64_t b) const {
    return *reinterpret_cast<FreeLinks*>(at(b + kBlockHeaderSize));
  }
  EntryHeader& entry(std::uint64_t b) const {
    return *reinterpret_cast<EntryHeader*>(at(b + kBlockHeaderSize));
  }
  std::uint64_t* buckets() const {
    return reinterpret_cast<std::uint64_t*>(at(h_->buckets_offset));
  }
  FillSlot* fills() const { return reinterpret_cast<FillSlot*>(at(h_->fills_offset)); }

  static std::uint64_t size_of(const BlockHeader& b) { return b.size_flags & ~kUsed; }
  std::uint64_t size_of(std::uint64_t b) const { return size_of(block(b)); }
  bool used(std::uint64_t b) const { return (block(b).size_flags & kUsed) != 0; }

  unsigned char* key_bytes(std::uint64_t b) const {
    return at(b + kBlockHeaderSize + sizeof(EntryHeader));
  }
  unsigned char* header_bytes(std::uint64_t b) const { return key_bytes(b) + entry(b).key_size; }
  unsigned char* body_bytes(std::uint64_t b) const {
    return header_bytes(b) + entry(b).header_size;
  }
  std::string_view key_of(std::uint64_t b) const {
    return {reinterpret_cast<const char*>(key_bytes(b)), entry(b).key_size};
  }

  // --- allocator ---

  void format_heap() {
    const std::uint64_t b = h_->heap_begin;
    block(b) = {h_->heap_end - b, 0};
    h_->free_head = 0;
    h_->free_bytes = 0;
    push_free(b);
  }

  // First fit; 0 if no free block is big enough. `need` is a multiple of kAlign, >= kMinBlock.
  std::uint64_t allocate(std::uint64_t need) {
    for (std::uint64_t b = h_->free_head; b != 0; b = links(b).next) {
      if (size_of(b) >= need) return take(b, need);
    }
    return 0;
  }

  // Takes free block `b` (size >= need) off the free list; a tail big enough to be a block of
  // its own goes back to the heap.
  std::uint64_t take(std::uint64_t b, std::uint64_t need) {
    unlink_free(b);
    const std::uint64_t size = size_of(b);
    if (size - need >= kMinBlock) {
      block(b).size_flags = need | kUsed;
      const std::uint64_t rest = b + need;
      block(rest) = {size - need, need};
      set_next_prev_size(rest);
      push_free(rest);
    } else {
      block(b).size_flags = size | kUsed;
    }
    return b;
  }

  // Frees used block `b`, merged with free neighbours; returns the merged block.
  std::uint64_t release_block(std::uint64_t b) {
    std::uint64_t size = size_of(b);
    const std::uint64_t next = b + size;
    if (next < h_->heap_end && !used(next)) {
      unlink_free(next);
      size += size_of(next);
    }
    const std::uint64_t prev_size = block(b).prev_size;
    if (prev_size != 0 && !used(b - prev_size)) {
      b -= prev_size;
      unlink_free(b);
      size += size_of(b);
    }
    block(b).size_flags = size;
    set_next_prev_size(b);
    push_free(b);
    return b;
  }

  // Splits the unused end of used block `b` off when it can be a block of its own.
  void shrink(std::uint64_t b, std::uint64_t keep) {
    const std::uint64_t size = size_of(b);
    if (size - keep < kMinBlock) return;
    block(b).size_flags = keep | kUsed;
    const std::uint64_t rest = b + keep;
    block(rest) = {(size - keep) | kUsed, keep};
    set_next_prev_size(rest);
    release_block(rest);
  }

  // --- index and LRU ---

  std::uint64_t& bucket_of(std::uint64_t hash) const {
    return buckets()[hash & (h_->bucket_count - 1)];
  }

  std::uint64_t find(std::uint64_t hash, std::string_view key) const {
    for (std::uint64_t e = bucket_of(hash); e != 0; e = entry(e).chain_next) {
      if (entry(e).key_hash == hash && key_of(e) == key) return e;
    }
    return 0;
  }

  void link(std::uint64_t e) {
    EntryHeader& en = entry(e);
    std::uint64_t& head = bucket_of(en.key_hash);
    en.chain_next = head;
    head = e;
    en.lru_prev = 0;
    en.lru_next = h_->lru_head;
    if (h_->lru_head != 0) entry(h_->lru_head).lru_prev = e;
    h_->lru_head = e;
    if (h_->lru_tail == 0) h_->lru_tail = e;
    en.state = kLive;
    ++h_->entries;
    h_->stored_bytes += size_of(e);
  }

  void touch(std::uint64_t e) {
    if (h_->lru_head == e) return;
    lru_unlink(e);
    EntryHeader& en = entry(e);
    en.lru_prev = 0;
    en.lru_next = h_->lru_head;
    if (h_->lru_head != 0) entry(h_->lru_head).lru_prev = e;
    h_->lru_head = e;
    if (h_->lru_tail == 0) h_->lru_tail = e;
  }

  // Takes live entry `e` out of the index and the LRU list; frees its block unless it is
  // pinned. Returns the freed (merged) block, or 0 if the entry stays as a zombie.
  std::uint64_t retire(std::uint64_t e) {
    EntryHeader& en = entry(e);
    for (std::uint64_t* p = &bucket_of(en.key_hash); *p != 0; p = &entry(*p).chain_next) {
      if (*p == e) {
        *p = en.chain_next;
        break;
      }
    }
    lru_unlink(e);
    --h_->entries;
    h_->stored_bytes -= size_of(e);
    if (en.pins != 0) {
      en.state = kZombie;
      ++h_->zombies;
      return 0;
    }
    return release_block(e);
  }

 private:
  void push_free(std::uint64_t b) {
    FreeLinks& l = links(b);
    l.prev = 0;
    l.next = h_->free_head;
    if (h_->free_head != 0) links(h_->free_head).prev = b;
    h_->free_head = b;
    h_->free_bytes += size_of(b);
  }

  void unlink_free(std::uint64_t b) {
    const FreeLinks l = links(b);
    if (l.prev != 0) {
      links(l.prev).next = l.next;
    } else {
      h_->free_head = l.next;
    }
    if (l.next != 0) links(l.next).prev = l.prev;
    h_->free_bytes -= size_of(b);
  }

  void set_next_prev_size(std::uint64_t b) {
    const std::uint64_t next = b + size_of(b);
    if (next < h_->heap_end) block(next).prev_size = size_of(b);
  }

  void lru_unlink(std::uint64_t e) {
    EntryHeader& en = entry(e);
    if (en.lru_prev != 0) {
      entry(en.lru_prev).lru_next = en.lru_next;
    } else {
      h_->lru_head = en.lru_next;
    }
    if (en.lru_next != 0) {
      entry(en.lru_next).lru_prev = en.lru_prev;
    } else {
      h_->lru_tail = en.lru_prev;
    }
    en.lru_prev = 0;
    en.lru_next = 0;
  }

  StoreHeader* h_;
  unsigned char* base_;
};

// Every structural invariant of the region, checked without trusting any of it: offsets are
// bounded before they are followed and every walk is bounded by a count, so a region a dead
// holder left half-changed (or garbage) gives false, never a crash or an endless loop.
bool is_sound(const StoreHeader& h) {
  Region r(const_cast<StoreHeader*>(&h));
  // A block offset inside the heap, aligned, with room for `bytes` past it.
  auto fits = [&h](std::uint64_t b, std::uint64_t bytes) {
    return b >= h.heap_begin && b % kAlign == 0 && b < h.heap_end && bytes <= h.heap_end - b;
  };

  // Blocks tile the heap; no two free blocks touch (freeing always coalesces).
  std::uint64_t prev_size = 0;
  bool prev_free = false;
  std::uint64_t free_blocks = 0, free_bytes = 0, live = 0, live_bytes = 0, zombies = 0,
                reserved = 0;
  std::uint64_t b = h.heap_begin;
  while (b < h.heap_end) {
    if (!fits(b, kMinBlock)) return false;
    const std::uint64_t size = r.size_of(b);
    if (size < kMinBlock || size % kAlign != 0 || size > h.heap_end - b) return false;
    if (r.block(b).prev_size != prev_size) return false;
    if (!r.used(b)) {
      if (prev_free) return false;
      ++free_blocks;
      free_bytes += size;
      prev_free = true;
    } else {
      prev_free = false;
      if (size < kEntryOverhead) return false;
      const EntryHeader& e = r.entry(b);
      const std::uint64_t payload = size - kEntryOverhead;
      if (e.body_capacity > payload ||
          std::uint64_t{e.key_size} + e.header_size + e.body_capacity > payload ||
          e.body_size > e.body_capacity) {
        return false;
      }
      if (e.state == kLive || e.state == kZombie) {
        // A reservation's key may not be copied in yet; a published entry's is.
        if (e.key_hash != hash_key(r.key_of(b), h.seed)) return false;
      }
      if (e.state == kLive) {
        ++live;
        live_bytes += size;
      } else if (e.state == kZombie) {
        if (e.pins == 0) return false;
        ++zombies;
      } else if (e.state == kReserved) {
        reserved += size;
      } else {
        return false;
      }
    }
    prev_size = size;
    b += size;
  }
  if (b != h.heap_end || free_bytes != h.free_bytes) return false;

  std::uint64_t count = 0;
  std::uint64_t prev = 0;
  for (std::uint64_t f = h.free_head; f != 0; f = r.links(f).next) {
    if (!fits(f, kMinBlock) || r.used(f) || r.links(f).prev != prev || ++count > free_blocks) {
      return false;
    }
    prev = f;
  }
  if (count != free_blocks) return false;

  count = 0;
  prev = 0;
  for (std::uint64_t e = h.lru_head; e != 0; e = r.entry(e).lru_next) {
    if (!fits(e, kEntryOverhead) || !r.used(e) || r.entry(e).state != kLive ||
        r.entry(e).lru_prev != prev || ++count > live) {
      return false;
    }
    prev = e;
  }
  if (count != live || prev != h.lru_tail) return false;

  count = 0;
  for (std::uint64_t i = 0; i < h.bucket_count; ++i) {
    for (std::uint64_t e = r.buckets()[i]; e != 0; e = r.entry(e).chain_next) {
      if (!fits(e, kEntryOverhead) || !r.used(e) || r.entry(e).state != kLive ||
          (r.entry(e).key_hash & (h.bucket_count - 1)) != i || ++count > live) {
        return false;
      }
    }
  }
  return count == live && live == h.entries && live_bytes == h.stored_bytes &&
         zombies == h.zombies && reserved == h.reserved_bytes;
}

// Empties the index, the LRU list, the fill locks and the heap; the cumulative counters stay.
void format_contents(StoreHeader* h) {
  Region r(h);
  h->lru_head = h->lru_tail = 0;
  h->entries = h->stored_bytes = h->zombies = h->reserved_bytes = 0;
  std::memset(r.buckets(), 0, h->bucket_count * 8);
  std::memset(static_cast<void*>(r.fills()), 0, kFillSlots * sizeof(FillSlot));
  r.format_heap();
}

// Called with the lock just taken over from a dead holder. What it was changing cannot be
// known, so the whole structure is checked; if any of it is off, everything is discarded and the
// epoch voids the handles and reservations other workers hold into the old contents.
void repair(StoreHeader* h) {
  ++h->lock_recoveries;
  if (is_sound(*h)) return;
  ++h->formats;
  ++h->epoch;
  format_contents(h);
}

// Frees the reservations of writers that are gone (killed between reserve() and publish()).
// A scan of every block: run only when reservations keep a new entry out.
std::uint64_t reclaim_dead_reservations(StoreHeader* h) {
  Region r(h);
  const std::uint32_t self = current_thread_id();
  std::uint64_t freed = 0;
  for (std::uint64_t b = h->heap_begin; b < h->heap_end; b += r.size_of(b)) {
    if (!r.used(b)) continue;
    const EntryHeader& e = r.entry(b);
    if (e.state != kReserved || e.writer == self || !thread_is_gone(e.writer)) continue;
    h->reserved_bytes -= r.size_of(b);
    ++h->reservations_reclaimed;
    ++freed;
    b = r.release_block(b);  // merged with its free neighbours; the walk goes on past them
  }
  return freed;
}

}  // namespace

// --- lifecycle ---------------------------------------------------------------------------------

std::size_t CacheStore::min_size() {
  Layout layout;
  layout_for(0, layout);
  return static_cast<std::size_t>(layout.heap_begin + kMinHeap);
}

CacheStore CacheStore::create(void* base, std::size_t size, std::uint64_t seed) {
  Layout layout;
  if (base == nullptr || !is_aligned(base) || !layout_for(size, layout)) return CacheStore();
  auto* h = new (base) StoreHeader;
  h->magic = kStoreMagic;
  h->layout_version = kStoreLayoutVersion;
  h->region_size = size;
  h->seed = seed;
  h->bucket_count = layout.bucket_count;
  h->buckets_offset = layout.buckets_offset;
  h->fills_offset = layout.fills_offset;
  h->heap_begin = layout.heap_begin;
  h->heap_end = layout.heap_end;
  h->lock.holder.store(0, std::memory_order_relaxed);
  h->epoch = 1;
  h->stores = h->evictions = h->purged = h->reserve_failures = 0;
  h->lock_recoveries = h->formats = h->reservations_reclaimed = 0;
  for (auto& o : h->outcomes) o.store(0, std::memory_order_relaxed);
  h->lock_timeouts.store(0, std::memory_order_relaxed);
  format_contents(h);
  // Publishes the formatted region to whatever hands `base` to another thread or process.
  std::atomic_thread_fence(std::memory_order_release);
  return CacheStore(h);
}

CacheStore CacheStore::attach(void* base, std::size_t size) {
  Layout layout;
  if (base == nullptr || !is_aligned(base) || !layout_for(size, layout)) return CacheStore();
  std::atomic_thread_fence(std::memory_order_acquire);
  auto* h = std::launder(static_cast<StoreHeader*>(base));
  if (h->magic != kStoreMagic || h->layout_version != kStoreLayoutVersion ||
      h->region_size != size || h->bucket_count != layout.bucket_count ||
      h->heap_begin != layout.heap_begin || h->heap_end != layout.heap_end) {
    return CacheStore();
  }
  return CacheStore(h);
}

CacheStore CacheStore::open(void* base, std::size_t size, std::uint64_t seed) {
  const CacheStore attached = attach(base, size);
  return attached.valid() ? attached : create(base, size, seed);
}

std::uint64_t CacheStore::key_hash(std::string_view key) const {
  return hash_key(key, valid() ? header_->seed : 0);
}

// --- writing -----------------------------------------------------------------------------------

Slot CacheStore::reserve(std::string_view key, const EntryMeta& meta, std::size_t header_size,
                         std::size_t body_capacity) {
  if (!valid()) return Slot();
  const std::uint64_t heap = header_->heap_end - header_->heap_begin;
  // Each part is checked against the heap first, so the sum cannot overflow.
  if (key.size() > UINT32_MAX || header_size > UINT32_MAX || key.size() > heap ||
      header_size > heap || body_capacity > heap) {
    Locked lock(header_);
    if (lock.held()) ++header_->reserve_failures;
    return Slot();
  }
  const std::uint64_t need = std::max(
      kMinBlock, align_up(kEntryOverhead + key.size() + header_size + body_capacity, kAlign));
  const std::uint64_t hash = key_hash(key);
  Region r(header_);
  std::uint64_t b = 0;
  std::uint64_t epoch = 0;
  {
    Locked lock(header_);
    if (!lock.held()) return Slot();
    auto allocate_evicting = [&]() -> std::uint64_t {
      std::uint64_t got = need <= heap ? r.allocate(need) : 0;
      // When even evicting every live entry could not free `need` bytes (pinned or reserved
      // blocks hold the rest), fail at once instead of emptying the cache for nothing.
      const bool could_fit = need <= header_->free_bytes + header_->stored_bytes;
      while (got == 0 && could_fit && header_->lru_tail != 0) {
        ++header_->evictions;
        const std::uint64_t freed = r.retire(header_->lru_tail);
        if (freed != 0 && r.size_of(freed) >= need) got = r.take(freed, need);
      }
      return got;
    };
    b = allocate_evicting();
    if (b == 0 && header_->reserved_bytes != 0 && need <= heap &&
        reclaim_dead_reservations(header_) != 0) {
      b = allocate_evicting();
    }
    if (b == 0) {
      ++header_->reserve_failures;
      return Slot();
    }
    EntryHeader& e = r.entry(b);
    e.key_hash = hash;
    e.chain_next = e.lru_prev = e.lru_next = 0;
    e.meta = meta;
    e.body_size = 0;
    e.body_capacity = body_capacity;
    e.key_size = static_cast<std::uint32_t>(key.size());
    e.header_size = static_cast<std::uint32_t>(header_size);
    e.pins = 0;
    e.state = kReserved;
    e.writer = current_thread_id();
    e.unused = 0;
    header_->reserved_bytes += r.size_of(b);
    epoch = header_->epoch;
  }
  if (!key.empty()) std::memcpy(r.key_bytes(b), key.data(), key.size());
  Slot slot;
  slot.entry = b;
  slot.epoch = epoch;
  slot.headers = r.header_bytes(b);
  slot.header_size = header_size;
  slot.body = r.body_bytes(b);
  slot.body_capacity = body_capacity;
  return slot;
}

bool CacheStore::publish(Slot& slot, std::size_t body_size) {
  if (!valid() || !slot.valid()) return false;
  if (body_size > slot.body_capacity) {
    abort(slot);
    return false;
  }
  Region r(header_);
  const std::uint64_t b = slot.entry;
  const std::uint64_t epoch = slot.epoch;
  slot = Slot();
  Locked lock(header_);
  // A reservation from before a format is gone with it (and a timed-out one stays leaked
  // until its writer is found gone).
  if (!lock.held() || epoch != header_->epoch) return false;
  EntryHeader& e = r.entry(b);
  header_->reserved_bytes -= r.size_of(b);
  e.body_size = body_size;
  e.body_capacity = body_size;
  r.shrink(b, std::max(kMinBlock,
                       align_up(kEntryOverhead + e.key_size + e.header_size + body_size, kAlign)));
  const std::uint64_t older = r.find(e.key_hash, r.key_of(b));
  if (older != 0) r.retire(older);
  r.link(b);
  ++header_->stores;
  return true;
}

void CacheStore::abort(Slot& slot) {
  if (!valid() || !slot.valid()) return;
  Region r(header_);
  const std::uint64_t b = slot.entry;
  const std::uint64_t epoch = slot.epoch;
  slot = Slot();
  Locked lock(header_);
  if (!lock.held() || epoch != header_->epoch) return;
  header_->reserved_bytes -= r.size_of(b);
  r.release_block(b);
}

// --- reading -----------------------------------------------------------------------------------

Handle CacheStore::lookup(std::string_view key) {
  Handle handle;
  if (!valid()) return handle;
  const std::uint64_t hash = key_hash(key);
  Region r(header_);
  std::uint64_t b = 0;
  {
    Locked lock(header_);
    if (!lock.held()) return handle;
    b = r.find(hash, key);
    if (b == 0) return handle;
    ++r.entry(b).pins;
    r.touch(b);
    handle.epoch = header_->epoch;
  }
  // Pinned and published: nothing below changes until release().
  const EntryHeader& e = r.entry(b);
  handle.entry = b;
  handle.key = r.key_of(b);
  handle.headers = {reinterpret_cast<const char*>(r.header_bytes(b)), e.header_size};
  handle.body = r.body_bytes(b);
  handle.body_size = static_cast<std::size_t>(e.body_size);
  handle.meta = e.meta;
  return handle;
}

bool CacheStore::release(Handle& handle) {
  if (!valid() || !handle.valid()) return false;
  Region r(header_);
  const std::uint64_t b = handle.entry;
  const std::uint64_t epoch = handle.epoch;
  handle = Handle();
  Locked lock(header_);
  // Without the lock the pin stays (the entry leaks until a format) but the bytes were pinned
  // all along, so the copy is good.
  if (!lock.held()) return true;
  if (epoch != header_->epoch) return false;
  EntryHeader& e = r.entry(b);
  if (e.pins == 0) return true;  // a double release; the entry is not ours to free
  if (--e.pins == 0 && e.state == kZombie) {
    --header_->zombies;
    r.release_block(b);
  }
  return true;
}

// --- purging -----------------------------------------------------------------------------------

bool CacheStore::purge_exact(std::string_view key) {
  if (!valid()) return false;
  const std::uint64_t hash = key_hash(key);
  Region r(header_);
  Locked lock(header_);
  if (!lock.held()) return false;
  const std::uint64_t b = r.find(hash, key);
  if (b == 0) return false;
  r.retire(b);
  ++header_->purged;
  return true;
}

// A scan of every live entry under the lock: purges are rare administrative requests, and
// comparing a prefix costs nanoseconds per entry.
std::size_t CacheStore::purge_prefix(std::string_view prefix) {
  if (!valid()) return 0;
  Region r(header_);
  Locked lock(header_);
  if (!lock.held()) return 0;
  std::size_t count = 0;
  for (std::uint64_t b = header_->lru_head; b != 0;) {
    const std::uint64_t next = r.entry(b).lru_next;
    if (r.key_of(b).substr(0, prefix.size()) == prefix) {
      r.retire(b);
      ++count;
    }
    b = next;
  }
  header_->purged += count;
  return count;
}

std::size_t CacheStore::purge_all() {
  return purge_prefix(std::string_view());
}

// --- counters ----------------------------------------------------------------------------------

void CacheStore::record(Outcome outcome) {
  const auto index = static_cast<std::size_t>(outcome);
  if (!valid() || index >= kOutcomeCount) return;
  header_->outcomes[index].fetch_add(1, std::memory_order_relaxed);
}

StoreStats CacheStore::stats() const {
  StoreStats s;
  if (!valid()) return s;
  for (std::size_t i = 0; i < kOutcomeCount; ++i) {
    s.outcomes[i] = header_->outcomes[i].load(std::memory_order_relaxed);
  }
  s.lock_timeouts = header_->lock_timeouts.load(std::memory_order_relaxed);
  Region r(header_);
  Locked lock(header_);
  if (!lock.held()) return s;
  s.stores = header_->stores;
  s.lock_recoveries = header_->lock_recoveries;
  s.formats = header_->formats;
  s.reservations_reclaimed = header_->reservations_reclaimed;
  s.evictions = header_->evictions;
  s.purged = header_->purged;
  s.reserve_failures = header_->reserve_failures;
  s.entries = header_->entries;
  s.stored_bytes = header_->stored_bytes;
  s.zombies = header_->zombies;
  s.reserved_bytes = header_->reserved_bytes;
  s.free_bytes = header_->free_bytes;
  s.heap_bytes = header_->heap_end - header_->heap_begin;
  std::uint64_t largest = 0;
  for (std::uint64_t b = header_->free_head; b != 0; b = r.links(b).next) {
    largest = std::max(largest, r.size_of(b));
  }
  s.largest_free = largest > kEntryOverhead ? largest - kEntryOverhead : 0;
  return s;
}

// --- self-check --------------------------------------------------------------------------------

bool CacheStore::verify() const {
  if (!valid()) return false;
  Locked lock(header_);
  return lock.held() && is_sound(*header_);
}

// --- fill locks --------------------------------------------------------------------------------

bool CacheStore::try_begin_fill(std::uint64_t key_hash, std::uint64_t now_ms,
                                std::uint64_t timeout_ms) {
  if (!valid()) return true;
  Region r(header_);
  FillSlot* const fills = r.fills();
  Locked lock(header_);
  if (!lock.held()) return true;  // no collapsing, never blocking
  FillSlot* vacant = nullptr;
  for (std::size_t i = 0; i < kFillSlots; ++i) {
    FillSlot& f = fills[i];
    const bool active = f.deadline_ms != 0 && f.deadline_ms > now_ms;
    if (active && f.key_hash == key_hash) return false;
    if (!active && vacant == nullptr) vacant = &f;
  }
  if (vacant != nullptr) {
    vacant->key_hash = key_hash;
    // Never 0, which marks a free slot; saturating, so a huge timeout does not wrap.
    const std::uint64_t deadline =
        timeout_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + timeout_ms;
    vacant->deadline_ms = std::max<std::uint64_t>(deadline, 1);
  }
  return true;
}

void CacheStore::end_fill(std::uint64_t key_hash) {
  if (!valid()) return;
  Region r(header_);
  FillSlot* const fills = r.fills();
  Locked lock(header_);
  if (!lock.held()) return;  // the fill's deadline frees the key
  for (std::size_t i = 0; i < kFillSlots; ++i) {
    if (fills[i].deadline_ms != 0 && fills[i].key_hash == key_hash) fills[i].deadline_ms = 0;
  }
}

}  // namespace captain::cache
