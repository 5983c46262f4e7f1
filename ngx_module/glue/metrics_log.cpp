#include "ngx_module/glue/metrics_log.h"

#include "ngx_module/core/metrics/series_labels.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/metrics_conf.h"
#include "ngx_module/glue/request_phase.h"

namespace captain::glue {

namespace {

// $status's rule: an error status set while finalizing wins over the header's.
int response_status(const ngx_http_request_t* r) noexcept {
  if (r->err_status != 0) return static_cast<int>(r->err_status);
  return static_cast<int>(r->headers_out.status);
}

// Time spent in upstreams, over every attempt ($upstream_response_time lists them).
bool upstream_ms(const ngx_http_request_t* r, std::uint64_t* total) noexcept {
  if (r->upstream_states == nullptr || r->upstream_states->nelts == 0) return false;
  const auto* states = static_cast<const ngx_http_upstream_state_t*>(r->upstream_states->elts);
  bool any = false;
  *total = 0;
  for (ngx_uint_t i = 0; i < r->upstream_states->nelts; ++i) {
    if (states[i].peer == nullptr) continue;  // a separator between upstream groups
    *total += states[i].response_time;
    any = true;
  }
  return any;
}

ngx_int_t record_request(ngx_http_request_t* r) noexcept {
  const LocConf* lcf = loc_conf(r);
  const auto* route = static_cast<const MetricsRoute*>(lcf->metrics_route);
  if (route == nullptr) return NGX_OK;
  auto* zone = static_cast<MetricsZone*>(lcf->metrics_zone);
  if (!zone->table.valid()) return NGX_OK;

  std::uint64_t upstream = 0;
  const bool has_upstream = upstream_ms(r, &upstream);
  zone->table.record(ngx_worker, route->slot, metrics::method_index(to_view(r->method_name)),
                     metrics::status_index(response_status(r)), request_elapsed_ms(r) * 1000,
                     has_upstream, upstream * 1000,
                     static_cast<std::uint64_t>(r->connection->sent));
  return NGX_OK;
}

}  // namespace

ngx_int_t init_metrics_log(ngx_conf_t* cf) noexcept {
  return add_phase_handler(cf, NGX_HTTP_LOG_PHASE, record_request);
}

}  // namespace captain::glue
