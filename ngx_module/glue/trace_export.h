// Span export from nginx workers: the captain_trace_export / captain_trace_service_name
// directives, the counters zone, each worker's ring and export thread, and the log-phase
// handler that queues one SERVER span per sampled request.
#pragma once

#include "ngx_module/core/trace_export/export_counters.h"
#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// http{}-level settings (part of MainConf). url.len == 0: export is off.
struct TraceExportConf {
  ngx_str_t url;  // where batches are posted (…/v1/traces)
  ngx_uint_t batch;
  ngx_uint_t queue;
  ngx_msec_t interval;
  ngx_msec_t timeout;
  ngx_str_t service_name;
  ngx_shm_zone_t* counters_zone;
};

void init_trace_export_conf(TraceExportConf* conf) noexcept;
char* set_trace_export(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_trace_service_name(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

ngx_int_t init_trace_export_log(ngx_conf_t* cf) noexcept;

// Worker start and exit: the ring and thread exist only in worker processes with export on.
void start_trace_export(ngx_cycle_t* cycle) noexcept;
void stop_trace_export(ngx_cycle_t* cycle) noexcept;

// Totals over every worker for the status endpoint; false when export is not configured.
bool trace_export_totals(ngx_http_request_t* r, trace_export::ExportTotals* out) noexcept;

}  // namespace captain::glue
