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

}  // namespace captain::glue
