#include "ngx_module/core/trace_export/span_ring.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace captain::trace_export {

namespace {

std::string_view field(const SpanRecord& r, Field f, const std::size_t (&offsets)[kFieldCount]) {
  const auto i = static_cast<std::size_t>(f);
  return std::string_view(r.text + offsets[i], r.lengths[i]);
}

}  // namespace

SpanRing::SpanRing(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      // Default-initialized: pages are touched only as the ring first goes round.
      slots_(new SpanRecord[capacity_]) {}

bool SpanRing::push(const ServerSpan& span) noexcept {
  const std::uint64_t head = head_.load(std::memory_order_relaxed);
  if (head - tail_.load(std::memory_order_acquire) >= capacity_) return false;
  SpanRecord& r = slots_[head % capacity_];
  r.trace_id = span.trace_id;
  r.span_id = span.span_id;
  r.parent_span_id = span.parent_span_id;
  r.has_parent = span.has_parent;
  r.trace_flags = span.trace_flags;
  r.status = static_cast<std::uint16_t>(std::clamp(span.status, 0, 999));
  r.start_unix_nano = span.start_unix_nano;
  r.end_unix_nano = std::max(span.end_unix_nano, span.start_unix_nano);
  r.upstream_usec = span.upstream_usec;
  std::size_t used = 0;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    std::string_view v = span.text[i];
    std::size_t n = std::min<std::size_t>(v.size(), kFieldLimits[i]);
    n = std::min(n, kSlotTextBytes - used);
    if (static_cast<Field>(i) == Field::trace_state && n < v.size()) n = 0;
    if (n != 0) std::memcpy(r.text + used, v.data(), n);
    r.lengths[i] = static_cast<std::uint16_t>(n);
    used += n;
  }
  head_.store(head + 1, std::memory_order_release);
  return true;
}

std::size_t SpanRing::take(std::size_t max, std::vector<otlp::SpanData>& out) {
  std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  const std::uint64_t head = head_.load(std::memory_order_acquire);
  std::size_t n = 0;
  while (tail != head && n < max) {
    out.push_back(to_span_data(slots_[tail % capacity_]));
    ++tail;
    ++n;
    // Each slot goes back to the worker as soon as it is copied.
    tail_.store(tail, std::memory_order_release);
  }
  return n;
}

std::size_t SpanRing::pending() const noexcept {
  const std::uint64_t tail = tail_.load(std::memory_order_acquire);
  return static_cast<std::size_t>(head_.load(std::memory_order_acquire) - tail);
}

otlp::SpanData to_span_data(const SpanRecord& r) {
  std::size_t offsets[kFieldCount];
  std::size_t at = 0;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    offsets[i] = at;
    at += r.lengths[i];
  }
  auto text = [&](Field f) { return field(r, f, offsets); };

  otlp::SpanData s;
  s.trace_id = r.trace_id;
  s.span_id = r.span_id;
  s.parent_span_id = r.parent_span_id;
  s.has_parent = r.has_parent;
  s.parent_is_remote = r.has_parent;  // nginx's span is the first in this process
  s.trace_flags = r.trace_flags;
  s.trace_state = std::string(text(Field::trace_state));
  s.kind = otlp::SpanKind::server;
  s.start_unix_nano = r.start_unix_nano;
  s.end_unix_nano = r.end_unix_nano;

  // Semantic conventions for HTTP server spans: "{method} {http.route}", or the method alone
  // when there is no route.
  const std::string_view method = text(Field::method);
  const std::string_view route = text(Field::route);
  s.name = std::string(method);
  if (!route.empty()) {
    s.name += ' ';
    s.name += route;
  }
  s.add("http.request.method", std::string(method));
  s.add("url.path", std::string(text(Field::path)));
  s.add("url.scheme", std::string(text(Field::scheme)));
  if (!route.empty()) s.add("http.route", std::string(route));
  if (r.status != 0) s.add("http.response.status_code", static_cast<std::int64_t>(r.status));
  if (!text(Field::host).empty()) s.add("server.address", std::string(text(Field::host)));
  s.add("client.address", std::string(text(Field::client)));
  if (!text(Field::user_agent).empty()) {
    s.add("user_agent.original", std::string(text(Field::user_agent)));
  }
  if (!text(Field::upstream_address).empty()) {
    s.add("captain.upstream.address", std::string(text(Field::upstream_address)));
  }
  if (r.upstream_usec >= 0) {
    s.add("captain.upstream.duration", static_cast<double>(r.upstream_usec) / 1e6);
  }
  if (!text(Field::request_id).empty()) {
    s.add("captain.request_id", std::string(text(Field::request_id)));
  }
  // Server spans: 5xx is an error of ours, 4xx the client's (status stays unset).
  if (r.status >= 500) {
    s.status = otlp::StatusCode::error;  // no message: the status code attribute says it
  }
  return s;
}

}  // namespace captain::trace_export
