// Per-route metrics configuration: captain_metrics_zone (shared memory), captain_metrics (which
// zone and route label a location counts under), captain_status and captain_status_token.
#pragma once

#include "ngx_module/core/metrics/buckets.h"
#include "ngx_module/core/metrics/metrics_table.h"
#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// One series set: a server label and a route label, bound to a slot of its zone's table when
// the zone is initialized.
struct MetricsRoute {
  ngx_str_t server;
  ngx_str_t route;
  std::uint32_t slot;
};

struct MetricsZone {
  ngx_str_t name;
  ngx_shm_zone_t* shm_zone;
  metrics::Buckets buckets;
  ngx_array_t* routes;  // MetricsRoute*, every route a location of this configuration counts in
  metrics::MetricsTable table;
};

char* set_metrics_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_metrics(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_status(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

// Called from merge_loc_conf: resolves the location's zone and registers its route.
char* merge_metrics(ngx_conf_t* cf, void* parent, void* child) noexcept;

}  // namespace captain::glue
