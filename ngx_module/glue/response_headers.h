// Header filter: X-Request-ID, traceparent, X-Response-Time and the security header policy on
// every response of the main request, nginx's own error pages included.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

ngx_int_t init_response_headers(ngx_conf_t* cf) noexcept;

}  // namespace captain::glue
