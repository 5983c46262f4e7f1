// One finished span as OpenTelemetry describes it (trace/v1/trace.proto), in plain C++: what
// the module and the controller hand to the exporter, and what otlp_json encodes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "shared/trace_context/traceparent.h"

namespace captain::otlp {

// The values of Span.SpanKind and Status.StatusCode in trace.proto.
enum class SpanKind : std::uint8_t { internal = 1, server = 2, client = 3 };
enum class StatusCode : std::uint8_t { unset = 0, ok = 1, error = 2 };

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;

struct Attribute {
  std::string key;
  AttributeValue value;
};

struct SpanData {
  trace::TraceId trace_id{};
  trace::SpanId span_id{};
  trace::SpanId parent_span_id{};
  bool has_parent = false;
  bool parent_is_remote = false;  // the parent came in a traceparent header
  std::uint8_t trace_flags = 0;   // W3C trace-flags of this span's context
  std::string trace_state;        // W3C tracestate, already normalized
  std::string name;
  SpanKind kind = SpanKind::internal;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  std::vector<Attribute> attributes;
  StatusCode status = StatusCode::unset;
  std::string status_message;

  void add(std::string key, AttributeValue value) {
    attributes.push_back(Attribute{std::move(key), std::move(value)});
  }
};

// Who produced the spans: service.name, host.name, ... (Resource), and the instrumentation
// (InstrumentationScope).
struct Resource {
  std::vector<Attribute> attributes;
};

struct Scope {
  std::string name;
  std::string version;
};

}  // namespace captain::otlp
