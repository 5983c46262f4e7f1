#include "controller/api/request_context.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>

#include "controller/api/client_address.h"
#include "shared/request_id/request_id.h"
#include "shared/trace_context/traceparent.h"

namespace captain::api {
namespace {

// OpenSSL's CSPRNG: the controller handles a few requests per second, so the cost is
// irrelevant and ids stay unpredictable. std::random_device is the fallback if RAND_bytes
// ever fails (it does not on Linux once seeded).
template <std::size_t N>
std::array<std::uint8_t, N> random_bytes() {
  std::array<std::uint8_t, N> out{};
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    std::random_device device;
    for (auto& b : out) b = static_cast<std::uint8_t>(device());
  }
  return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> random_non_zero_id() {
  auto id = random_bytes<N>();
  if (trace::is_all_zero(id)) id[N - 1] = 1;  // all-zero ids are invalid in W3C trace context
  return id;
}

}  // namespace

RequestContext make_request_context(const http::Request& req,
                                    const std::vector<config::Cidr>& trusted_proxies) {
  RequestContext context;

  const std::string incoming_id = req.get_header_value("X-Request-ID");
  if (is_valid_request_id(incoming_id)) {
    context.request_id = incoming_id;
  } else {
    char id[kMaxGeneratedIdLength];
    const auto length = format_request_id(RequestIdFormat::uuid, random_bytes<16>(), id);
    context.request_id.assign(id, length);
  }

  if (const tracing::Span* span = tracing::current_span(); span && span->context().valid()) {
    context.traceparent = span->context().traceparent();
    context.span = span->parent();
  } else {
    trace::TraceId trace_id{};
    bool sampled = false;
    if (auto parent = trace::parse_traceparent(req.get_header_value("traceparent"))) {
      trace_id = parent->trace_id;
      sampled = parent->sampled();
    } else {
      trace_id = random_non_zero_id<16>();
    }
    char traceparent[trace::kTraceparentLength];
    trace::format_traceparent(trace_id, random_non_zero_id<8>(), sampled, traceparent);
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
