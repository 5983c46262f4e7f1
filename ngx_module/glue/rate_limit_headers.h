// The rate-limit response headers (X-RateLimit-*, RateLimit-Policy/RateLimit, Retry-After), and
// the count=failures charge, which needs the response status.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

ngx_int_t init_rate_limit_headers(ngx_conf_t* cf) noexcept;

}  // namespace captain::glue
