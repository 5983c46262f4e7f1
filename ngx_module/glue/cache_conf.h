// Response cache configuration: captain_cache_zone (a shared-memory CacheStore) and
// captain_cache (which zone a location caches into, under which key and policy).
#pragma once

#include "ngx_module/core/cache/cache_store.h"
#include "ngx_module/core/cache/freshness.h"
#include "ngx_module/glue/main_conf.h"
#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// One captain_cache_zone, in the configuration pool. `store` is this process's view of the
// zone's shared memory, set when the zone is initialized.
struct CacheZone {
  ngx_str_t name;
  ngx_shm_zone_t* shm_zone;  // NULL until the zone is declared
  std::size_t max_object;
  std::uint32_t default_ttl;
  cache::CacheStore store;
  ngx_str_t first_use_file;
  ngx_uint_t first_use_line;
};

// One captain_cache line (not "off"): plain data in the configuration pool.
struct CacheLoc {
  CacheZone* zone;
  ngx_http_complex_value_t* key;
  ngx_http_complex_value_t* bypass;  // NULL: never bypassed
  cache::StorePolicy policy;
  bool ttl_given;  // else the zone's default_ttl applies
};

char* set_cache_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_cache(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

// Every zone a captain_cache names was declared (checked once the http{} block is read).
char* check_cache_zones_declared(ngx_conf_t* cf, MainConf* mcf) noexcept;

}  // namespace captain::glue
