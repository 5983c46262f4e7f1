// Names of the headers captain features read from requests and write to requests and responses.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

inline const ngx_str_t kRequestIdHeader = ngx_string("X-Request-ID");
inline const ngx_str_t kTraceparentHeader = ngx_string("traceparent");
inline const ngx_str_t kTracestateHeader = ngx_string("tracestate");
inline const ngx_str_t kResponseTimeHeader = ngx_string("X-Response-Time");
inline const ngx_str_t kServerHeader = ngx_string("Server");

}  // namespace captain::glue
