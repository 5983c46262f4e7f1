// The one block of memory a captain zone keeps in its nginx shared-memory segment.
#pragma once

#include <sys/random.h>

#include <cstdint>
#include <ctime>
#include <string_view>

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

// A captain zone of `zones` (an ngx_array_t of Zone*, Zone having an ngx_str_t name) by name.
template <class Zone>
Zone* find_named_zone(const ngx_array_t* zones, const ngx_str_t& name) noexcept {
  auto** elts = static_cast<Zone**>(zones->elts);
  for (ngx_uint_t i = 0; i < zones->nelts; ++i) {
    if (to_view(elts[i]->name) == to_view(name)) return elts[i];
  }
  return nullptr;
}

// Registers the shared-memory segment "<prefix><name>" of `size` bytes for a captain zone,
// initialized by init(…, data). nullptr when nginx could not (it has said why).
inline ngx_shm_zone_t* add_named_segment(ngx_conf_t* cf, std::string_view prefix,
                                         const ngx_str_t& name, std::size_t size,
                                         ngx_shm_zone_init_pt init, void* data) noexcept {
  ngx_str_t shm_name;
  shm_name.len = prefix.size() + name.len;
  shm_name.data = static_cast<u_char*>(ngx_pnalloc(cf->pool, shm_name.len));
  if (shm_name.data == nullptr) return nullptr;
  ngx_memcpy(ngx_cpymem(shm_name.data, prefix.data(), prefix.size()), name.data, name.len);
  ngx_shm_zone_t* shm_zone = ngx_shared_memory_add(cf, &shm_name, size, &ngx_http_captain_module);
  if (shm_zone == nullptr) return nullptr;
  shm_zone->init = init;
  shm_zone->data = data;
  return shm_zone;
}

// A seed for a zone's key hashing. Only the hash layout depends on it; a guessable one (the
// fallback) costs flooding resistance, not correctness.
inline std::uint64_t zone_hash_seed() noexcept {
  std::uint64_t seed = 0;
  if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == static_cast<ssize_t>(sizeof(seed))) {
    return seed;
  }
  return static_cast<std::uint64_t>(std::time(nullptr)) * 0x9e3779b97f4a7c15ULL ^
         static_cast<std::uint64_t>(ngx_pid);
}

}  // namespace captain::glue
