#include "controller/api/request_context.h"

#include <array>
#include <cstdint>

#include "controller/api/client_address.h"
#include "controller/trace/random_id.h"
#include "shared/request_id/request_id.h"
#include "shared/trace_context/traceparent.h"

namespace captain::api {

RequestContext make_request_context(const http::Request& req,
                                    const std::vector<config::Cidr>& trusted_proxies) {
  RequestContext context;

  const std::string incoming_id = req.get_header_value("X-Request-ID");
  if (is_valid_request_id(incoming_id)) {
    context.request_id = incoming_id;
  } else {
    char id[kMaxGeneratedIdLength];
    const auto length = format_request_id(RequestIdFormat::uuid, tracing::random_id<16>(), id);
    context.request_id.assign(id, length);
  }

  if (const tracing::Span* span = tracing::current_span(); span && span->context().valid()) {
    context.traceparent = span->context().traceparent();
    context.span = span->parent();
  } else {
    // No span for this request: its context is still passed on. A caller's flags are kept
    // (sampled, random); a trace started here is random (Level 2) and not sampled.
    trace::TraceId trace_id{};
    std::uint8_t flags = trace::kFlagRandom;
    if (auto parent = trace::parse_traceparent(req.get_header_value("traceparent"))) {
      trace_id = parent->trace_id;
      flags = parent->flags & trace::kKnownFlags;
    } else {
      trace_id = tracing::random_id<16>();
    }
    char traceparent[trace::kTraceparentLength];
    trace::format_traceparent(trace_id, tracing::random_id<8>(), flags, traceparent);
    context.traceparent.assign(traceparent, sizeof traceparent);
  }
  context.trace_id = context.traceparent.substr(trace::kTraceIdOffset, 32);
  context.span_id = context.traceparent.substr(trace::kParentIdOffset, 16);

  context.client_ip = client_address(req.remote_addr, req.get_header_value("X-Forwarded-For"),
                                     req.get_header_value("X-Real-IP"), trusted_proxies);
  context.user_agent = req.get_header_value("User-Agent");
  return context;
}

void add_context_headers(const RequestContext& context, http::Response& res) {
  res.set_header("X-Request-ID", context.request_id);
  res.set_header("traceparent", context.traceparent);
}

}  // namespace captain::api
