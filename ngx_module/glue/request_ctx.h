// The identity of one client request — its request id and trace context — computed lazily,
// once, and shared by the main request, its subrequests and its internal redirects.
#pragma once

#include "ngx_module/core/request_id.h"
#include "ngx_module/core/span_start.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/ngx.h"
#include "shared/trace_context/traceparent.h"

namespace captain::glue {

struct RequestCtx {
  // Incoming headers, found by one scan of the request's headers.
  ngx_table_elt_t* in_request_id;
  ngx_table_elt_t* in_traceparent;
  ngx_uint_t n_request_id;
  ngx_uint_t n_traceparent;
  ngx_uint_t n_tracestate;

  bool request_id_ready;
  bool request_id_honored;  // the client's X-Request-ID is used unchanged
  bool request_id_sent_upstream;
  bool trace_ready;
  bool trace_sent_upstream;

  ngx_str_t request_id;
  char generated_id[kMaxGeneratedIdLength];

  SpanStart span;
  char traceparent[trace::kTraceparentLength];  // what we send upstream and to the client
  char parent_span_hex[16];
  ngx_str_t tracestate;  // normalized incoming tracestate; empty when none or dropped
};

// The context of r's main request, created on first use; nullptr if the pool is exhausted.
RequestCtx* request_ctx(ngx_http_request_t* r) noexcept;

// The request id (incoming if valid, else generated in the location's format).
const ngx_str_t* ensure_request_id(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

// The span for this request; false if the pool is exhausted.
bool ensure_trace(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

// Seeds this worker's id generator; called once per worker process.
void seed_id_generator(ngx_log_t* log) noexcept;

}  // namespace captain::glue
