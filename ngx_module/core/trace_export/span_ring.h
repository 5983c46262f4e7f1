// The queue between one nginx worker's event loop and its span-export thread.
//
// Layout: `capacity` fixed-size SpanRecord slots allocated once when the worker starts, plus a
// head (next slot the worker writes) and a tail (next slot the export thread reads), each on
// its own cache line. One producer (the worker's event-loop thread, at the log phase) and one
// consumer (the export thread): a push is a few stores and one release store, with no lock and
// no allocation; when the ring is full the span is dropped and counted, the request never
// waits. The ring lives in the worker's private heap (not shared memory): when the worker dies
// its queued spans die with it, which the status endpoint shows as spans queued but neither
// exported nor dropped.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "shared/otlp/batch_exporter.h"
#include "shared/trace_context/traceparent.h"

namespace captain::trace_export {

// The text fields of a server span, in the order they are packed into a slot.
enum class Field : std::uint8_t {
  method,
  scheme,
  route,
  path,
  host,
  client,
  user_agent,
  upstream_address,
  request_id,
  trace_state,
  count
};
inline constexpr std::size_t kFieldCount = static_cast<std::size_t>(Field::count);

// Longest copy of each field; what is longer is cut (trace_state, which a cut would corrupt, is
// left out instead).
inline constexpr std::uint16_t kFieldLimits[kFieldCount] = {
    32,   // method
    8,    // scheme
    128,  // route
    512,  // path
    256,  // host
    64,   // client
    256,  // user_agent
    128,  // upstream_address
    128,  // request_id
    512,  // trace_state (the most the module propagates)
};
inline constexpr std::size_t kSlotTextBytes = 2048;

// What the worker knows about a finished request, as views into its pool; copied into a slot.
struct ServerSpan {
  trace::TraceId trace_id{};
  trace::SpanId span_id{};
  trace::SpanId parent_span_id{};
  bool has_parent = false;
  std::uint8_t trace_flags = 0;
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  int status = 0;                  // HTTP status sent
  std::int64_t upstream_usec = -1;  // time in upstreams; -1: none was asked
  std::array<std::string_view, kFieldCount> text{};
};

// One queued span: plain data, written by the worker, read by the export thread.
struct SpanRecord {
  trace::TraceId trace_id;
  trace::SpanId span_id;
  trace::SpanId parent_span_id;
  bool has_parent;
  std::uint8_t trace_flags;
  std::uint16_t status;
  std::uint16_t lengths[kFieldCount];
  std::uint64_t start_unix_nano;
  std::uint64_t end_unix_nano;
  std::int64_t upstream_usec;
  char text[kSlotTextBytes];  // the fields back to back
};

// Appends the record as an OTLP JSON span object: name, kind SERVER, HTTP semantic-convention
// attributes, status ERROR on 5xx. Written straight from the slot, with no SpanData between.
void append_server_span_json(std::string& out, const SpanRecord& record);

class SpanRing : public otlp::SpanSource {
 public:
  explicit SpanRing(std::size_t capacity);

  // Worker thread only. False when the ring is full (the span is dropped).
  bool push(const ServerSpan& span) noexcept;

  // Export thread only.
  std::size_t take_json(std::size_t max, std::string& out) override;
  std::size_t pending() const noexcept override;

  std::size_t capacity() const noexcept { return capacity_; }

 private:
  const std::size_t capacity_;
  std::unique_ptr<SpanRecord[]> slots_;
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace captain::trace_export
