#include "ngx_module/glue/main_conf.h"

#include "ngx_module/glue/rate_limit_conf.h"

namespace captain::glue {

void* create_main_conf(ngx_conf_t* cf) noexcept {
  auto* conf = static_cast<MainConf*>(ngx_pcalloc(cf->pool, sizeof(MainConf)));
  if (conf == nullptr) return nullptr;
  conf->limit_zones = ngx_array_create(cf->pool, 4, sizeof(void*));
  conf->metrics_zones = ngx_array_create(cf->pool, 2, sizeof(void*));
  if (conf->limit_zones == nullptr || conf->metrics_zones == nullptr) return nullptr;
  return conf;
}

char* init_main_conf(ngx_conf_t* cf, void* conf) noexcept {
  return check_limit_zones_declared(cf, static_cast<MainConf*>(conf));
}

}  // namespace captain::glue
