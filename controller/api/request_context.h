// Per-request identity for the controller's API: the request id (the client's X-Request-ID when
// it is well-formed, else a new UUID) and the W3C trace context, which is the request's SERVER
// span (trace/tracer.h: the listener starts it, continuing an incoming traceparent). Both go
// into every log line and audit record of the request and back to the client in response
// headers; work the request queues (a deploy) carries `span` so its spans join the trace.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/config/cidr.h"
#include "controller/http/message.h"
#include "controller/trace/tracer.h"

namespace captain::api {

struct RequestContext {
  std::string request_id;
  std::string trace_id;     // 32 lowercase hex
  std::string span_id;      // 16 lowercase hex: the request's span
  std::string traceparent;  // ours: same trace id, this request's span id
  std::string client_ip;
  std::string user_agent;
  tracing::Parent span;  // what spans of work done for the request attach to; empty: none
};

// Reads X-Request-ID, the client's address (the peer, or what a trusted proxy says it is:
// client_address.h) and User-Agent; the trace context is the thread's current span (the
// request's, installed by the listener). Without one (a caller outside the listener), an
// incoming traceparent is continued with a new span id, or a new trace id made, as ids only.
RequestContext make_request_context(const http::Request& req,
                                    const std::vector<config::Cidr>& trusted_proxies);

// X-Request-ID and traceparent on the response.
void add_context_headers(const RequestContext& context, http::Response& res);

}  // namespace captain::api
