#include "ngx_module/core/trace_export/span_ring.h"

#include <algorithm>
#include <cstring>

#include "shared/otlp/otlp_json.h"

namespace captain::trace_export {

namespace {

std::string_view field(const SpanRecord& r, Field f, const std::size_t (&offsets)[kFieldCount]) {
  const auto i = static_cast<std::size_t>(f);
  return std::string_view(r.text() + offsets[i], r.lengths[i]);
}

constexpr std::size_t kMaxRecordBytes = [] {
  std::size_t n = sizeof(SpanRecord);
  for (std::uint16_t limit : kFieldLimits) n += limit;
  return (n + 7) & ~std::size_t{7};
}();

}  // namespace

SpanRing::SpanRing(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 1)),
      // Always room for a few of the longest records, whatever the capacity.
      bytes_(std::max(capacity_ * kBytesPerQueuedSpan, 4 * kMaxRecordBytes)),
      // Not value-initialized: pages are touched only as the ring first goes round.
      buffer_(new std::uint64_t[bytes_ / 8]) {}

bool SpanRing::push(const ServerSpan& span) noexcept {
  const std::uint64_t pushed = pushed_.load(std::memory_order_relaxed);
  if (pushed - taken_.load(std::memory_order_acquire) >= capacity_) return false;

  std::uint16_t lengths[kFieldCount];
  std::size_t text = 0;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    std::size_t n = std::min<std::size_t>(span.text[i].size(), kFieldLimits[i]);
    if (static_cast<Field>(i) == Field::trace_state && n < span.text[i].size()) n = 0;
    lengths[i] = static_cast<std::uint16_t>(n);
    text += n;
  }
  const std::size_t size = (sizeof(SpanRecord) + text + 7) & ~std::size_t{7};
  const std::size_t offset = head_bytes_ % bytes_;
  const std::size_t skip = offset + size > bytes_ ? bytes_ - offset : 0;
  if (head_bytes_ + skip + size - tail_bytes_.load(std::memory_order_acquire) > bytes_) {
    return false;
  }
  if (skip != 0) {
    const std::uint32_t wrap = 0;
    std::memcpy(at(head_bytes_), &wrap, sizeof wrap);
  }
  char* p = at(head_bytes_ + skip);
  SpanRecord r;
  r.size = static_cast<std::uint32_t>(size);
  r.trace_id = span.trace_id;
  r.span_id = span.span_id;
  r.parent_span_id = span.parent_span_id;
  r.has_parent = span.has_parent;
  r.trace_flags = span.trace_flags;
  r.status = static_cast<std::uint16_t>(std::clamp(span.status, 0, 999));
  std::memcpy(r.lengths, lengths, sizeof lengths);
  r.start_unix_nano = span.start_unix_nano;
  r.end_unix_nano = std::max(span.end_unix_nano, span.start_unix_nano);
  r.upstream_usec = span.upstream_usec;
  std::memcpy(p, &r, sizeof r);
  char* t = p + sizeof r;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (lengths[i] != 0) std::memcpy(t, span.text[i].data(), lengths[i]);
    t += lengths[i];
  }
  head_bytes_ += skip + size;
  pushed_.store(pushed + 1, std::memory_order_release);
  return true;
}

std::size_t SpanRing::take_json(std::size_t max, std::string& out) {
  std::uint64_t tail = tail_bytes_.load(std::memory_order_relaxed);
  std::uint64_t taken = taken_.load(std::memory_order_relaxed);
  const std::uint64_t pushed = pushed_.load(std::memory_order_acquire);
  std::size_t n = 0;
  while (taken != pushed && n < max) {
    std::uint32_t size;
    std::memcpy(&size, at(tail), sizeof size);
    if (size == 0) {  // wrap marker: the record is at the start
      tail += bytes_ - tail % bytes_;
      continue;
    }
    if (n != 0) out += ',';
    append_server_span_json(out, *reinterpret_cast<const SpanRecord*>(at(tail)));
    tail += size;
    ++taken;
    ++n;
    // Each record's bytes go back to the worker as soon as it is encoded.
    tail_bytes_.store(tail, std::memory_order_release);
    taken_.store(taken, std::memory_order_release);
  }
  return n;
}

std::size_t SpanRing::pending() const noexcept {
  const std::uint64_t taken = taken_.load(std::memory_order_acquire);
  return static_cast<std::size_t>(pushed_.load(std::memory_order_acquire) - taken);
}

void append_server_span_json(std::string& out, const SpanRecord& r) {
  std::size_t offsets[kFieldCount];
  std::size_t at = 0;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    offsets[i] = at;
    at += r.lengths[i];
  }
  auto text = [&](Field f) { return field(r, f, offsets); };

  // The keys, ids and numbers below take under 1 KiB; each text field at most its escaped
  // bound, the method twice (name and attribute), the route twice.
  const std::size_t bound = 1024 + otlp::JsonCursor::string_bound(at) +
                            otlp::JsonCursor::string_bound(r.lengths[0] + r.lengths[2] + 1);
  const std::size_t old = out.size();
  out.resize(old + bound);
  otlp::JsonCursor w(out.data() + old);

  auto string_attribute = [&w](std::string_view key_prefix, std::string_view value) {
    w.raw(key_prefix);
    w.string(value);
    w.raw("}}");
  };

  w.raw("{\"traceId\":");
  w.hex_id(r.trace_id);
  w.raw(",\"spanId\":");
  w.hex_id(r.span_id);
  if (r.has_parent) {
    w.raw(",\"parentSpanId\":");
    w.hex_id(r.parent_span_id);
  }
  if (r.lengths[static_cast<std::size_t>(Field::trace_state)] != 0) {
    w.raw(",\"traceState\":");
    w.string(text(Field::trace_state));
  }
  // Span.flags: the W3C flags; a parent, when there is one, is remote: nginx's span is the
  // first in this process.
  w.raw(",\"flags\":");
  w.decimal(r.trace_flags | otlp::kSpanFlagHasIsRemote |
            (r.has_parent ? otlp::kSpanFlagIsRemote : 0u));

  // Semantic conventions for HTTP server spans: "{method} {http.route}", or the method alone
  // when there is no route.
  const std::string_view method = text(Field::method);
  const std::string_view route = text(Field::route);
  w.raw(",\"name\":");
  if (route.empty()) {
    w.string(method);
  } else {
    char name[kFieldLimits[0] + 1 + kFieldLimits[2]];
    std::memcpy(name, method.data(), method.size());
    name[method.size()] = ' ';
    std::memcpy(name + method.size() + 1, route.data(), route.size());
    w.string(std::string_view(name, method.size() + 1 + route.size()));
  }
  w.raw(",\"kind\":2,\"startTimeUnixNano\":\"");  // SPAN_KIND_SERVER
  w.decimal(r.start_unix_nano);
  w.raw("\",\"endTimeUnixNano\":\"");
  w.decimal(r.end_unix_nano);
  w.raw("\",\"attributes\":[");
  string_attribute("{\"key\":\"http.request.method\",\"value\":{\"stringValue\":", method);
  string_attribute(",{\"key\":\"url.path\",\"value\":{\"stringValue\":", text(Field::path));
  string_attribute(",{\"key\":\"url.scheme\",\"value\":{\"stringValue\":", text(Field::scheme));
  if (!route.empty()) {
    string_attribute(",{\"key\":\"http.route\",\"value\":{\"stringValue\":", route);
  }
  if (r.status != 0) {
    w.raw(",{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"");
    w.decimal(r.status);
    w.raw("\"}}");
  }
  if (!text(Field::host).empty()) {
    string_attribute(",{\"key\":\"server.address\",\"value\":{\"stringValue\":",
                     text(Field::host));
  }
  string_attribute(",{\"key\":\"client.address\",\"value\":{\"stringValue\":",
                   text(Field::client));
  if (!text(Field::user_agent).empty()) {
    string_attribute(",{\"key\":\"user_agent.original\",\"value\":{\"stringValue\":",
                     text(Field::user_agent));
  }
  if (!text(Field::upstream_address).empty()) {
    string_attribute(",{\"key\":\"captain.upstream.address\",\"value\":{\"stringValue\":",
                     text(Field::upstream_address));
  }
  if (r.upstream_usec >= 0) {
    // Seconds with microsecond precision, written as a decimal without floating point.
    w.raw(",{\"key\":\"captain.upstream.duration\",\"value\":{\"doubleValue\":");
    const auto usec = static_cast<std::uint64_t>(r.upstream_usec);
    w.decimal(usec / 1'000'000);
    char frac[7] = {'.', '0', '0', '0', '0', '0', '0'};
    for (std::uint64_t rest = usec % 1'000'000, i = 6; i > 0; --i, rest /= 10) {
      frac[i] = static_cast<char>('0' + rest % 10);
    }
    w.raw(std::string_view(frac, sizeof frac));
    w.raw("}}");
  }
  if (!text(Field::request_id).empty()) {
    string_attribute(",{\"key\":\"captain.request_id\",\"value\":{\"stringValue\":",
                     text(Field::request_id));
  }
  // Server spans: 5xx is an error of ours, 4xx the client's (status stays unset), and no
  // message, since the status code attribute says it.
  w.raw(r.status >= 500 ? "],\"status\":{\"code\":2}}" : "],\"status\":{}}");
  out.resize(static_cast<std::size_t>(w.end() - out.data()));
}

}  // namespace captain::trace_export
