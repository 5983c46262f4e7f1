// Rewrite-phase handler: puts the request id and the trace context on the request headers
// that proxy_pass (and fastcgi/uwsgi/grpc) forward upstream.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

ngx_int_t init_upstream_headers(ngx_conf_t* cf) noexcept;

}  // namespace captain::glue
