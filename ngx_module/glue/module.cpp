// ngx_http_captain_module: directive table, configuration hooks and worker start-up. Feature
// logic lives in ngx_module/core (plain C++); each glue file wires one feature into nginx.
#include "ngx_module/glue/cache_conf.h"
#include "ngx_module/glue/cache_phase.h"
#include "ngx_module/glue/directives.h"
#include "ngx_module/glue/fault_hooks.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/main_conf.h"
#include "ngx_module/glue/metrics_conf.h"
#include "ngx_module/glue/metrics_log.h"
#include "ngx_module/glue/ngx.h"
#include "ngx_module/glue/rate_limit_conf.h"
#include "ngx_module/glue/rate_limit_headers.h"
#include "ngx_module/glue/rate_limit_phase.h"
#include "ngx_module/glue/request_ctx.h"
#include "ngx_module/glue/response_headers.h"
#include "ngx_module/glue/trace_export.h"
#include "ngx_module/glue/upstream_headers.h"
#include "ngx_module/glue/variables.h"

namespace captain::glue {

namespace {

constexpr ngx_uint_t kAnyLevel = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

ngx_command_t g_commands[] = {
    {ngx_string("captain_request_id"), kAnyLevel | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, request_id), nullptr},

    {ngx_string("captain_request_id_format"), kAnyLevel | NGX_CONF_TAKE1, set_request_id_format,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_response_time"), kAnyLevel | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, response_time), nullptr},

    {ngx_string("captain_trace"), kAnyLevel | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, trace), nullptr},

    {ngx_string("captain_trace_sample_rate"), kAnyLevel | NGX_CONF_TAKE1, set_trace_sample_rate,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_trace_export"), NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE, set_trace_export,
     NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_trace_service_name"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
     set_trace_service_name, NGX_HTTP_MAIN_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_security_headers"), kAnyLevel | NGX_CONF_FLAG, ngx_conf_set_flag_slot,
     NGX_HTTP_LOC_CONF_OFFSET, offsetof(LocConf, security_headers), nullptr},

    {ngx_string("captain_security_header"), kAnyLevel | NGX_CONF_TAKE23, add_security_header,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_hide_header"), kAnyLevel | NGX_CONF_1MORE, add_hide_header,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_limit_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE, set_limit_zone, 0, 0,
     nullptr},

    {ngx_string("captain_limit"), kAnyLevel | NGX_CONF_1MORE, add_limit, NGX_HTTP_LOC_CONF_OFFSET,
     0, nullptr},

    {ngx_string("captain_metrics_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE, set_metrics_zone, 0,
     0, nullptr},

    {ngx_string("captain_metrics"), kAnyLevel | NGX_CONF_TAKE12, set_metrics,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_status"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS | NGX_CONF_TAKE1, set_status,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_status_token"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, set_status,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_limit_headers"), kAnyLevel | NGX_CONF_TAKE1, set_limit_headers,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},

    {ngx_string("captain_cache_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE, set_cache_zone, 0, 0,
     nullptr},

    {ngx_string("captain_cache"), kAnyLevel | NGX_CONF_1MORE, set_cache, NGX_HTTP_LOC_CONF_OFFSET,
     0, nullptr},

    ngx_null_command,
};

ngx_int_t preconfiguration(ngx_conf_t* cf) noexcept {
  return add_variables(cf);
}

ngx_int_t postconfiguration(ngx_conf_t* cf) noexcept {
  if (init_upstream_headers(cf) != NGX_OK || init_rate_limit_phase(cf) != NGX_OK ||
      init_metrics_log(cf) != NGX_OK || init_trace_export_log(cf) != NGX_OK || init_response_headers(cf) != NGX_OK) {
    return NGX_ERROR;
  }
  if (init_rate_limit_headers(cf) != NGX_OK) return NGX_ERROR;
  // Last, so the cache's header filter runs before the module's other filters add per-request
  // headers that must not be stored.
  return init_cache(cf);
}

ngx_int_t init_process(ngx_cycle_t* cycle) noexcept {
  seed_id_generator(cycle->log);
  init_limit_zones_in_worker(cycle);
  install_fault_hooks(cycle->log);
  start_trace_export(cycle);
  return NGX_OK;
}

void exit_process(ngx_cycle_t* cycle) noexcept {
  stop_trace_export(cycle);
}

ngx_http_module_t g_module_ctx = {
    preconfiguration,   // variables
    postconfiguration,  // phase handlers and filters
    create_main_conf,   // rate-limit zones
    init_main_conf,     // every zone named by a directive is declared
    nullptr,            // create server configuration
    nullptr,            // merge server configuration
    create_loc_conf,    // per-location settings
    merge_loc_conf,     // inherited across levels
};

}  // namespace

}  // namespace captain::glue

ngx_module_t ngx_http_captain_module = {
    NGX_MODULE_V1,
    &captain::glue::g_module_ctx,
    captain::glue::g_commands,
    NGX_HTTP_MODULE,
    nullptr,                      // init master
    nullptr,                      // init module
    captain::glue::init_process,  // init process
    nullptr,                      // init thread
    nullptr,                      // exit thread
    captain::glue::exit_process,  // exit process
    nullptr,                      // exit master
    NGX_MODULE_V1_PADDING,
};
