#include "ngx_module/core/trace_export/span_ring.h"

#include <algorithm>
#include <cstring>

#include "shared/otlp/otlp_json.h"

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

std::size_t SpanRing::take_json(std::size_t max, std::string& out) {
  std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  const std::uint64_t head = head_.load(std::memory_order_acquire);
  std::size_t n = 0;
  while (tail != head && n < max) {
    if (n != 0) out += ',';
    append_server_span_json(out, slots_[tail % capacity_]);
    ++tail;
    ++n;
    // Each slot goes back to the worker as soon as it is encoded.
    tail_.store(tail, std::memory_order_release);
  }
  return n;
}

std::size_t SpanRing::pending() const noexcept {
  const std::uint64_t tail = tail_.load(std::memory_order_acquire);
  return static_cast<std::size_t>(head_.load(std::memory_order_acquire) - tail);
}

void append_server_span_json(std::string& out, const SpanRecord& r) {
  std::size_t offsets[kFieldCount];
  std::size_t at = 0;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    offsets[i] = at;
    at += r.lengths[i];
  }
  auto text = [&](Field f) { return field(r, f, offsets); };
  // One attribute: {"key":"<key>","value":{"<kind>":
  auto open_attribute = [&out](std::string_view key, std::string_view kind) {
    out += "{\"key\":\"";
    out += key;
    out += "\",\"value\":{\"";
    out += kind;
    out += "\":";
  };
  auto string_attribute = [&](std::string_view key, std::string_view value) {
    out += ',';
    open_attribute(key, "stringValue");
    otlp::append_json_string(out, value);
    out += "}}";
  };

  out += "{\"traceId\":";
  otlp::append_hex_id(out, r.trace_id);
  out += ",\"spanId\":";
  otlp::append_hex_id(out, r.span_id);
  if (r.has_parent) {
    out += ",\"parentSpanId\":";
    otlp::append_hex_id(out, r.parent_span_id);
  }
  if (r.lengths[static_cast<std::size_t>(Field::trace_state)] != 0) {
    out += ",\"traceState\":";
    otlp::append_json_string(out, text(Field::trace_state));
  }
  // Span.flags: the W3C flags, "is-remote is known" (0x100), and the parent is remote (0x200)
  // when there is one: nginx's span is the first in this process.
  out += ",\"flags\":";
  otlp::append_decimal(out, r.trace_flags | 0x100u | (r.has_parent ? 0x200u : 0u));

  // Semantic conventions for HTTP server spans: "{method} {http.route}", or the method alone
  // when there is no route.
  const std::string_view method = text(Field::method);
  const std::string_view route = text(Field::route);
  out += ",\"name\":";
  if (route.empty()) {
    otlp::append_json_string(out, method);
  } else {
    std::string name;
    name.reserve(method.size() + 1 + route.size());
    name.append(method).append(1, ' ').append(route);
    otlp::append_json_string(out, name);
  }
  out += ",\"kind\":2,\"startTimeUnixNano\":\"";  // SPAN_KIND_SERVER
  otlp::append_decimal(out, r.start_unix_nano);
  out += "\",\"endTimeUnixNano\":\"";
  otlp::append_decimal(out, r.end_unix_nano);
  out += "\",\"attributes\":[";
  open_attribute("http.request.method", "stringValue");
  otlp::append_json_string(out, method);
  out += "}}";
  string_attribute("url.path", text(Field::path));
  string_attribute("url.scheme", text(Field::scheme));
  if (!route.empty()) string_attribute("http.route", route);
  if (r.status != 0) {
    out += ',';
    open_attribute("http.response.status_code", "intValue");
    out += '"';
    otlp::append_decimal(out, r.status);
    out += "\"}}";
  }
  if (!text(Field::host).empty()) string_attribute("server.address", text(Field::host));
  string_attribute("client.address", text(Field::client));
  if (!text(Field::user_agent).empty()) {
    string_attribute("user_agent.original", text(Field::user_agent));
  }
  if (!text(Field::upstream_address).empty()) {
    string_attribute("captain.upstream.address", text(Field::upstream_address));
  }
  if (r.upstream_usec >= 0) {
    // Seconds with microsecond precision, written as a decimal without floating point.
    out += ',';
    open_attribute("captain.upstream.duration", "doubleValue");
    const auto usec = static_cast<std::uint64_t>(r.upstream_usec);
    otlp::append_decimal(out, usec / 1'000'000);
    char frac[8] = {'.', '0', '0', '0', '0', '0', '0', 0};
    for (std::uint64_t rest = usec % 1'000'000, i = 6; i > 0; --i, rest /= 10) {
      frac[i] = static_cast<char>('0' + rest % 10);
    }
    out.append(frac, 7);
    out += "}}";
  }
  if (!text(Field::request_id).empty()) {
    string_attribute("captain.request_id", text(Field::request_id));
  }
  out += ']';
  // Server spans: 5xx is an error of ours, 4xx the client's (status stays unset), and no
  // message, since the status code attribute says it.
  out += r.status >= 500 ? ",\"status\":{\"code\":2}}" : ",\"status\":{}}";
}

}  // namespace captain::trace_export
