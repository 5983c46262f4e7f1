// The response cache in the request path: a precontent-phase lookup that answers fresh hits
// from the zone, and header/body filters that store storable responses of misses.
#pragma once

#include "ngx_module/core/cache/cache_control.h"
#include "ngx_module/core/cache/cache_key.h"
#include "ngx_module/core/cache/cache_store.h"
#include "ngx_module/glue/ngx.h"

namespace captain::glue {

struct CacheLoc;
struct CacheZone;

enum class CacheStatus : std::uint8_t { none = 0, hit, miss, bypass, expired, stale };

// One client request's cache state, in its pool (RequestCtx::cache).
struct CacheState {
  CacheStatus status = CacheStatus::none;
  bool fill = false;  // the response may be stored (decided by the header filter)
  // Went upstream for an expired entry; counted by the header filter as EXPIRED or STALE.
  bool expired_uncounted = false;
  bool storing = false;      // the body filter copies into `slot`
  bool vary_marker = false;  // publish a Vary marker under `base_key` after the variant
  const CacheLoc* loc = nullptr;
  CacheZone* zone = nullptr;
  ngx_str_t base_key = {0, nullptr};
  ngx_str_t variant_key = {0, nullptr};  // base_key + separator + normalized Accept-Encoding
  std::int64_t request_time = 0;
  cache::EntryMeta meta;
  cache::Slot slot;
  std::size_t body_size = 0;
  // A response of unknown length is gathered in the request pool and reserved at its end with
  // its exact size, so it never makes the zone evict max_object bytes for a small body.
  bool deferred = false;
  ngx_str_t store_key = {0, nullptr};
  ngx_str_t pending_headers = {0, nullptr};
  u_char* pending_body = nullptr;
  std::size_t pending_capacity = 0;

  // Collapsing concurrent misses: the filler holds the key's fill lock; the others wait.
  std::uint64_t fill_hash = 0;
  bool fill_locked = false;
  bool waiting = false;
  bool cleanup_added = false;
  ngx_msec_t wait_start = 0;
  cache::RequestDirectives request_directives;
  std::uint32_t method = 0;
  cache::EncodingSet encodings = 0;

  // stale-if-error: the stored body that replaces an upstream error's.
  bool serving_stale = false;
  bool stale_sent = false;
  ngx_str_t stale_body = {0, nullptr};
};

// Registers the lookup and the filters; called from postconfiguration after the other
// filters, so the cache's header filter sees the response before the module adds its
// per-request headers (X-Request-ID, ...).
ngx_int_t init_cache(ngx_conf_t* cf) noexcept;

// "HIT", "MISS", ... or an empty string for none.
ngx_str_t cache_status_text(CacheStatus status) noexcept;

}  // namespace captain::glue
