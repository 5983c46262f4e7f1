// The identity of one client request — its request id and trace context — computed lazily,
// once, and shared by the main request, its subrequests and its internal redirects.
#pragma once

#include "shared/request_id/request_id.h"
#include "ngx_module/core/span_start.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/ngx.h"
#include "ngx_module/glue/rate_limit_state.h"
#include "shared/trace_context/traceparent.h"

namespace captain::glue {

struct CacheState;

// Where the client's copies of one header are: the first one and how many there are.
struct IncomingHeader {
  ngx_table_elt_t* first = nullptr;
  ngx_uint_t count = 0;
};

// Created once per client request in its pool; only the fields below that have initializers
// are set up front, the buffers are written before they are read.
struct RequestCtx {
  // Found by one scan of the request's headers, made only by features that read them (rate
  // limiting alone never pays for it).
  IncomingHeader in_request_id;
  IncomingHeader in_traceparent;
  IncomingHeader in_tracestate;

  bool incoming_scanned = false;  // the three IncomingHeader fields are filled in lazily
  bool request_id_ready = false;
  bool request_id_honored = false;  // the client's X-Request-ID is used unchanged
  bool request_id_sent_upstream = false;
  bool trace_ready = false;
  bool trace_sent_upstream = false;

  ngx_str_t request_id;
  char generated_id[kMaxGeneratedIdLength];

  SpanStart span;
  char traceparent[trace::kTraceparentLength];  // what we send upstream and to the client
  char parent_span_hex[16];
  ngx_str_t tracestate = {0, nullptr};  // normalized incoming tracestate; empty when none/dropped

  LimitState limit;
  CacheState* cache = nullptr;  // created by the cache lookup (cache_phase.h)
};

// The context of r's main request if one was created already; never creates it.
RequestCtx* existing_request_ctx(ngx_http_request_t* r) noexcept;

// The context of r's main request, created on first use; nullptr if the pool is exhausted.
RequestCtx* request_ctx(ngx_http_request_t* r) noexcept;

// The request id (incoming if valid, else generated in the location's format).
const ngx_str_t* ensure_request_id(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

// The span for this request; false if the pool is exhausted.
bool ensure_trace(ngx_http_request_t* r, RequestCtx* ctx) noexcept;

// Seeds this worker's id generator; called once per worker process.
void seed_id_generator(ngx_log_t* log) noexcept;

}  // namespace captain::glue
