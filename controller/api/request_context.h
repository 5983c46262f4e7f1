// Per-request identity for the controller's API: the request id (the client's X-Request-ID when
// it is well-formed, else a new UUID) and the W3C trace context (an incoming traceparent is
// continued with a new span; otherwise a new trace starts). Both go into every log line and
// audit record of the request and back to the client in response headers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/config/cidr.h"
#include "controller/http/message.h"

namespace captain::api {

struct RequestContext {
  std::string request_id;
  std::string trace_id;     // 32 lowercase hex
  std::string traceparent;  // ours: same trace id, this request's span id
  std::string client_ip;
  std::string user_agent;
};

// Reads X-Request-ID, traceparent, the client's address (the peer, or what a trusted proxy
// says it is: client_address.h) and User-Agent.
RequestContext make_request_context(const http::Request& req,
                                    const std::vector<config::Cidr>& trusted_proxies);

// X-Request-ID and traceparent on the response.
void add_context_headers(const RequestContext& context, http::Response& res);

}  // namespace captain::api
