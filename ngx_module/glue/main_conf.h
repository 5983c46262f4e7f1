// The module's http{}-level configuration: the shared-memory zones its features declare.
#pragma once

#include "ngx_module/glue/ngx.h"
#include "ngx_module/glue/trace_export.h"

namespace captain::glue {

struct MainConf {
  ngx_array_t* limit_zones;    // LimitZone* (rate_limit_conf.h), in declaration or first-use order
  ngx_array_t* metrics_zones;  // MetricsZone* (metrics_conf.h)
  ngx_array_t* cache_zones;    // CacheZone* (cache_conf.h)
  TraceExportConf trace_export;  // captain_trace_export, captain_trace_service_name
};

void* create_main_conf(ngx_conf_t* cf) noexcept;
// Runs once the whole http{} block is read: every zone named by a directive was declared.
char* init_main_conf(ngx_conf_t* cf, void* conf) noexcept;

inline MainConf* main_conf(ngx_conf_t* cf) noexcept {
  return static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_captain_module));
}

}  // namespace captain::glue
