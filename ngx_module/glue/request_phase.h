// Small helpers over nginx's request machinery shared by the features' glue.
#pragma once

#include <cstdint>

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// Adds `handler` to one of nginx's request phases (called from postconfiguration).
inline ngx_int_t add_phase_handler(ngx_conf_t* cf, ngx_http_phases phase,
                                   ngx_http_handler_pt handler) noexcept {
  auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(
      ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
  auto* h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[phase].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = handler;
  return NGX_OK;
}

// Milliseconds since the request's first byte on nginx's cached clock, the one $request_time
// uses: millisecond resolution, no syscall.
inline std::uint64_t request_elapsed_ms(const ngx_http_request_t* r) noexcept {
  const ngx_time_t* now = ngx_timeofday();
  const ngx_msec_int_t ms = static_cast<ngx_msec_int_t>(
      (now->sec - r->start_sec) * 1000 +
      (static_cast<ngx_msec_int_t>(now->msec) - static_cast<ngx_msec_int_t>(r->start_msec)));
  return ms > 0 ? static_cast<std::uint64_t>(ms) : 0;
}

// $status's rule: an error status set while finalizing wins over the header's.
inline int response_status(const ngx_http_request_t* r) noexcept {
  if (r->err_status != 0) return static_cast<int>(r->err_status);
  return static_cast<int>(r->headers_out.status);
}

// The request's upstream attempts ($upstream_response_time lists them): their total time and
// the last peer tried. `any` is false when no upstream was asked.
struct UpstreamSummary {
  bool any = false;
  std::uint64_t total_ms = 0;
  const ngx_str_t* last_peer = nullptr;
};

inline UpstreamSummary upstream_summary(const ngx_http_request_t* r) noexcept {
  UpstreamSummary out;
  if (r->upstream_states == nullptr) return out;
  const auto* states = static_cast<const ngx_http_upstream_state_t*>(r->upstream_states->elts);
  for (ngx_uint_t i = 0; i < r->upstream_states->nelts; ++i) {
    if (states[i].peer == nullptr) continue;  // a separator between upstream groups
    out.total_ms += states[i].response_time;
    out.last_peer = states[i].peer;
    out.any = true;
  }
  return out;
}

}  // namespace captain::glue
