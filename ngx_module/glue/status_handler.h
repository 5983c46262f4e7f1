// captain_status: the Prometheus endpoint. Sums every metrics zone's per-worker counters and
// reads the rate-limit zones' counters at scrape time; nothing on the request path waits for it.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

ngx_int_t status_handler(ngx_http_request_t* r) noexcept;

}  // namespace captain::glue
