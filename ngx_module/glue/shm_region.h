// The one block of memory a captain zone keeps in its nginx shared-memory segment.
#pragma once

#include <cstdint>

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// The block starts with its own size, so a segment reused across a reload is re-attached
// without trusting anything else in it; the table follows, 64-byte aligned.
struct alignas(64) ShmRegion {
  std::uint64_t table_bytes;
  void* table() noexcept { return this + 1; }
};

// The region of a segment formatted earlier (nginx -s reload kept the segment).
inline ShmRegion* existing_region(ngx_shm_zone_t* shm_zone) noexcept {
  return static_cast<ShmRegion*>(reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr)->data);
}

// Takes every free page of a fresh segment's slab pool in one allocation: the tables do their
// own bookkeeping, so the slab allocator's per-object overhead is paid once, not per entry.
inline ShmRegion* allocate_region(ngx_shm_zone_t* shm_zone) noexcept {
  auto* slab = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  const std::size_t bytes = slab->pfree << ngx_pagesize_shift;
  auto* region = static_cast<ShmRegion*>(ngx_slab_alloc(slab, bytes));
  if (region == nullptr) return nullptr;
  region->table_bytes = bytes - sizeof(ShmRegion);
  slab->data = region;
  return region;
}

}  // namespace captain::glue
