// The controller's own spans: W3C ids, parent-based sampling, the span a thread is working in,
// and finished spans handed to a SpanSink (span_export.h ships them as OTLP/HTTP).
//
//   request ──Tracer::start_server──▶ SERVER span (continues a valid traceparent; else a new
//                                     trace sampled by the ratio)
//   code on that thread ──start_span(name)──▶ child of the thread's current span
//   work queued for another thread carries a Parent (a copy of the span's context and its
//   tracer) and starts its spans from it: start_span(parent, name)
//
// Cost when nothing is recorded (export off, or the trace is not sampled): a Span is a context
// (ids for log lines and the response's traceparent) and no allocation; ending it queues
// nothing. A recording span owns one otlp::SpanData and is moved to the sink when it ends.
//
// Concurrency: a Span is used by one thread at a time (the listener hands its request's span
// from a worker to the io thread through asio's queue, which orders the accesses). The
// "current span" is thread-local and only ever points at a Span the installing scope outlives.
// The Tracer itself is immutable after construction; its sink must be thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "shared/otlp/span_data.h"
#include "shared/trace_context/traceparent.h"

namespace captain::tracing {

// A span's identity as W3C trace context carries it.
struct SpanContext {
  trace::TraceId trace_id{};
  trace::SpanId span_id{};
  bool sampled = false;
  // Level 2's random-trace-id flag: set on traces we start (CSPRNG ids), kept as received on
  // traces we continue.
  bool random = false;

  std::uint8_t flags() const noexcept {
    return static_cast<std::uint8_t>((sampled ? trace::kFlagSampled : 0) |
                                     (random ? trace::kFlagRandom : 0));
  }

  bool valid() const noexcept {
    return !trace::is_all_zero(trace_id) && !trace::is_all_zero(span_id);
  }
  std::string trace_id_hex() const;
  std::string span_id_hex() const;
  std::string traceparent() const;  // "00-<trace>-<span>-<flags>"
};

// Where finished spans go. Called on the thread that ended the span: must not block.
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void finished(otlp::SpanData&& span) noexcept = 0;
};

class Tracer;

// What a span's children attach to: its context and the tracer recording them. A plain value,
// so work queued for another thread (a deploy on the deployer's workers) carries it along.
// An empty Parent (no tracer) makes no spans at all.
struct Parent {
  Tracer* tracer = nullptr;
  SpanContext context;

  bool valid() const noexcept { return tracer != nullptr && context.valid(); }
  // Whether spans started from it are recorded (worth preparing attributes for).
  bool recording() const noexcept;
};

class Span {
 public:
  Span() = default;  // no context, records nothing
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;  // ends the span held before
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;
  ~Span() { end(); }

  // Sampled and exporting: attributes and status are kept and exported at end().
  bool recording() const noexcept { return data_ != nullptr; }
  const SpanContext& context() const noexcept { return context_; }
  // For spans started from this one, here or on another thread.
  Parent parent() const noexcept { return Parent{tracer_, context_}; }

  void set_name(std::string name);
  // OpenTelemetry attributes; a key set twice keeps the last value.
  void set(std::string_view key, std::string_view value);
  void set(std::string_view key, const char* value) { set(key, std::string_view(value)); }
  void set(std::string_view key, bool value);
  template <class Int,
            std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  void set(std::string_view key, Int value) {
    set_int(key, static_cast<std::int64_t>(value));
  }
  // Status ERROR with a message (the span's outcome, as a user would read it).
  void set_error(std::string_view message);

  // Stamps the end time and hands a recording span to the sink. Idempotent; the context stays
  // readable afterwards.
  void end() noexcept;
  // Ends without exporting (a poll that turned out to change nothing).
  void discard() noexcept { data_.reset(); }

 private:
  friend class Tracer;
  void set_int(std::string_view key, std::int64_t value);
  void put(std::string_view key, otlp::AttributeValue value);

  Tracer* tracer_ = nullptr;
  SpanContext context_;
  std::unique_ptr<otlp::SpanData> data_;  // only while recording
};

class Tracer {
 public:
  // `sample_ratio` in [0, 1]: the share of new traces recorded. `sink` null: export is off;
  // nothing is recorded, but spans still get ids for logs and the response's traceparent.
  Tracer(double sample_ratio, SpanSink* sink);
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  bool exporting() const noexcept { return sink_ != nullptr; }

  // A SERVER span for a request. `traceparent`: the header's value (empty when absent or sent
  // more than once); a valid one is continued and its sampled flag decides. Otherwise a new
  // trace starts, sampled by the ratio when `may_start_trace` (false for health probes and
  // scrapes: traced only when a caller asks). `tracestate` (the fields joined with ',') is
  // kept, normalized, on a recorded span that continues a trace.
  Span start_server(std::string name, std::string_view traceparent, std::string_view tracestate,
                    bool may_start_trace);
  // A new trace nobody asked for (nginx reconfigured after a poll noticed a change).
  Span start_root(std::string name, otlp::SpanKind kind = otlp::SpanKind::internal);
  // A child of `parent`, sampled as it is; an empty span when parent is not valid. When it
  // will not be recorded (not exporting, parent not sampled) it carries the parent's context
  // unchanged, so a child of an unsampled request costs no id and no allocation.
  Span start_child(const SpanContext& parent, std::string name, otlp::SpanKind kind);

  // Whether a new trace with this id is recorded, by the ratio (ignores exporting()).
  bool sample_new_trace(const trace::TraceId& trace_id) const noexcept;

 private:
  friend class Span;
  Span make(SpanContext context, std::string name, otlp::SpanKind kind,
            const trace::SpanId* parent_id, bool remote_parent);
  void finish(otlp::SpanData&& span) noexcept;

  bool sample_all_ = false;
  // A new trace is sampled when the last 8 bytes of its id, read big-endian, are below this.
  std::uint64_t sample_below_ = 0;
  SpanSink* sink_ = nullptr;
};

// A child of `parent` (from another thread's span, carried with queued work); empty when
// parent is.
Span start_span(const Parent& parent, std::string name,
                otlp::SpanKind kind = otlp::SpanKind::internal);
// A child of this thread's current span; empty when the thread has none.
Span start_span(std::string name, otlp::SpanKind kind = otlp::SpanKind::internal);

// The span this thread works in (null when none), and what its children attach to (also set by
// a CurrentScope over a Parent, when the span itself lives elsewhere).
Span* current_span() noexcept;
Parent current_parent() noexcept;

// Makes a span (or a parent) this thread's current one until the scope ends, then restores the
// previous. Scopes nest; the span must outlive the scope.
class CurrentScope {
 public:
  explicit CurrentScope(Span& span) noexcept;
  explicit CurrentScope(const Parent& parent) noexcept;
  ~CurrentScope();
  CurrentScope(const CurrentScope&) = delete;
  CurrentScope& operator=(const CurrentScope&) = delete;

 private:
  Span* previous_span_;
  Parent previous_parent_;
};

// A span that is this thread's current one for its lifetime, and ends with it.
class ScopedSpan {
 public:
  explicit ScopedSpan(Span span) noexcept : span_(std::move(span)), scope_(span_) {}
  ScopedSpan(const ScopedSpan&) = delete;
  ScopedSpan& operator=(const ScopedSpan&) = delete;

  Span& operator*() noexcept { return span_; }
  Span* operator->() noexcept { return &span_; }

 private:
  Span span_;  // declared before the scope: the scope ends first, then the span
  CurrentScope scope_;
};

}  // namespace captain::tracing
