#include "ngx_module/glue/main_conf.h"

#include "ngx_module/glue/cache_conf.h"
#include "ngx_module/glue/rate_limit_conf.h"

namespace captain::glue {

void* create_main_conf(ngx_conf_t* cf) noexcept {
  auto* conf = static_cast<MainConf*>(ngx_pcalloc(cf->pool, sizeof(MainConf)));
  if (conf == nullptr) return nullptr;
  conf->limit_zones = ngx_array_create(cf->pool, 4, sizeof(void*));
  conf->metrics_zones = ngx_array_create(cf->pool, 2, sizeof(void*));
  conf->cache_zones = ngx_array_create(cf->pool, 2, sizeof(void*));
  if (conf->limit_zones == nullptr || conf->metrics_zones == nullptr ||
      conf->cache_zones == nullptr) {
    return nullptr;
  }
  init_trace_export_conf(&conf->trace_export);
  return conf;
}

char* init_main_conf(ngx_conf_t* cf, void* conf) noexcept {
  auto* mcf = static_cast<MainConf*>(conf);
  if (check_limit_zones_declared(cf, mcf) != NGX_CONF_OK) return static_cast<char*>(NGX_CONF_ERROR);
  return check_cache_zones_declared(cf, mcf);
}

}  // namespace captain::glue
