#include "ngx_module/glue/metrics_log.h"

#include "ngx_module/core/metrics/series_labels.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/metrics_conf.h"
#include "ngx_module/glue/request_phase.h"

namespace captain::glue {

namespace {

ngx_int_t record_request(ngx_http_request_t* r) noexcept {
  const LocConf* lcf = loc_conf(r);
  const auto* route = static_cast<const MetricsRoute*>(lcf->metrics_route);
  if (route == nullptr) return NGX_OK;
  auto* zone = static_cast<MetricsZone*>(lcf->metrics_zone);
  if (!zone->table.valid()) return NGX_OK;

  const UpstreamSummary upstream = upstream_summary(r);
  zone->table.record(ngx_worker, route->slot, metrics::method_index(to_view(r->method_name)),
                     metrics::status_index(response_status(r)), request_elapsed_ms(r) * 1000,
                     upstream.any, upstream.total_ms * 1000,
                     static_cast<std::uint64_t>(r->connection->sent));
  return NGX_OK;
}

}  // namespace

ngx_int_t init_metrics_log(ngx_conf_t* cf) noexcept {
  return add_phase_handler(cf, NGX_HTTP_LOG_PHASE, record_request);
}

}  // namespace captain::glue
