// The queue between one nginx worker's event loop and its span-export thread.
//
// Layout: one byte buffer allocated when the worker starts, holding variable-length records
// back to back — a SpanRecord header, then its text fields — each padded to 8 bytes; a record
// that would cross the end is written at the start instead, behind a wrap marker (a size of
// 0). Two monotonic byte counters (head: written by the worker; tail: by the export thread)
// and two span counters, each on its own cache line. Records are as long as their text (a few
// hundred bytes for a typical request), so the memory the worker writes, and the export thread
// reads back soon after, stays small and warm in the caches; fixed 2 KiB slots made every push
// a string of cache misses.
//
// One producer (the worker's event-loop thread, at the log phase) and one consumer (the export
// thread): a push is a few copies and one release store, with no lock and no allocation; when
// the ring is full (in spans or in bytes) the span is dropped and counted, the request never
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
#include <type_traits>

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
// The byte buffer holds `capacity` spans of this size; longer ones use more of it (a queue of
// long spans fills before `capacity`).
inline constexpr std::size_t kBytesPerQueuedSpan = 512;

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

// One queued span's fixed part: plain data, written by the worker, read by the export thread;
// the text fields follow it in field order.
struct SpanRecord {
  std::uint32_t size;  // header + text, padded to 8; 0 marks a wrap to the buffer's start
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

  const char* text() const noexcept { return reinterpret_cast<const char*>(this + 1); }
};
static_assert(sizeof(SpanRecord) % 8 == 0);
static_assert(std::is_trivially_copyable_v<SpanRecord>);

// Appends the record as an OTLP JSON span object: name, kind SERVER, HTTP semantic-convention
// attributes, status ERROR on 5xx. Written straight from the slot, with no SpanData between.
void append_server_span_json(std::string& out, const SpanRecord& record);

class SpanRing : public otlp::SpanSource {
 public:
  // Room for `capacity` spans of kBytesPerQueuedSpan bytes.
  explicit SpanRing(std::size_t capacity);

  // Worker thread only. False when the ring is full (the span is dropped).
  bool push(const ServerSpan& span) noexcept;

  // Export thread only.
  std::size_t take_json(std::size_t max, std::string& out) override;
  std::size_t pending() const noexcept override;

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t buffer_bytes() const noexcept { return bytes_; }

 private:
  char* at(std::uint64_t offset) noexcept {
    return reinterpret_cast<char*>(buffer_.get()) + offset % bytes_;
  }

  const std::size_t capacity_;
  const std::size_t bytes_;
  std::unique_ptr<std::uint64_t[]> buffer_;  // 8-byte aligned
  std::uint64_t head_bytes_ = 0;             // worker only
  alignas(64) std::atomic<std::uint64_t> pushed_{0};
  alignas(64) std::atomic<std::uint64_t> tail_bytes_{0};
  std::atomic<std::uint64_t> taken_{0};
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace captain::trace_export
