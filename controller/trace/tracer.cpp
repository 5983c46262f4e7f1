#include "controller/trace/tracer.h"

#include <array>
#include <chrono>
#include <cmath>
#include <utility>

#include "controller/trace/random_id.h"
#include "shared/encoding/hex.h"
#include "shared/trace_context/tracestate.h"

namespace captain::tracing {
namespace {

std::uint64_t unix_nanos_now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

struct Current {
  Span* span = nullptr;
  Parent parent;  // used when span is null
};

thread_local Current t_current;

}  // namespace

std::string SpanContext::trace_id_hex() const {
  std::string out(2 * trace_id.size(), '0');
  hex_encode(trace_id.data(), trace_id.size(), out.data());
  return out;
}

std::string SpanContext::span_id_hex() const {
  std::string out(2 * span_id.size(), '0');
  hex_encode(span_id.data(), span_id.size(), out.data());
  return out;
}

std::string SpanContext::traceparent() const {
  std::string out(trace::kTraceparentLength, '0');
  trace::format_traceparent(trace_id, span_id, flags(), out.data());
  return out;
}

// ---- Span ----------------------------------------------------------------------------------

Span::Span(Span&& other) noexcept
    : tracer_(other.tracer_), context_(other.context_), data_(std::move(other.data_)) {}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    end();
    tracer_ = other.tracer_;
    context_ = other.context_;
    data_ = std::move(other.data_);
  }
  return *this;
}

void Span::set_name(std::string name) {
  if (data_) data_->name = std::move(name);
}

void Span::put(std::string_view key, otlp::AttributeValue value) {
  for (auto& attribute : data_->attributes) {
    if (attribute.key == key) {
      attribute.value = std::move(value);
      return;
    }
  }
  data_->attributes.push_back(otlp::Attribute{std::string(key), std::move(value)});
}

void Span::set(std::string_view key, std::string_view value) {
  if (data_) put(key, std::string(value));
}

void Span::set(std::string_view key, bool value) {
  if (data_) put(key, value);
}

void Span::set_int(std::string_view key, std::int64_t value) {
  if (data_) put(key, value);
}

void Span::set_error(std::string_view message) {
  if (!data_) return;
  data_->status = otlp::StatusCode::error;
  data_->status_message = std::string(message);
}

void Span::end() noexcept {
  if (!data_) return;
  data_->end_unix_nano = unix_nanos_now();
  if (data_->end_unix_nano < data_->start_unix_nano) data_->end_unix_nano = data_->start_unix_nano;
  std::unique_ptr<otlp::SpanData> data = std::move(data_);
  if (tracer_ != nullptr) tracer_->finish(std::move(*data));
}

// ---- Tracer --------------------------------------------------------------------------------

Tracer::Tracer(double sample_ratio, SpanSink* sink) : sink_(sink) {
  if (!(sample_ratio > 0)) return;  // 0 or NaN: no new trace is sampled
  if (sample_ratio >= 1) {
    sample_all_ = true;
    return;
  }
  // ratio * 2^64 < 2^64 for every double below 1, so the conversion cannot overflow.
  sample_below_ = static_cast<std::uint64_t>(std::ldexp(sample_ratio, 64));
}

bool Tracer::sample_new_trace(const trace::TraceId& trace_id) const noexcept {
  if (sample_all_) return true;
  // The id's random low half decides, so every service using the same rule (OpenTelemetry's
  // TraceIdRatioBased reads these bytes too) keeps or drops the same traces.
  std::uint64_t low = 0;
  for (std::size_t i = 8; i < 16; ++i) low = low << 8 | trace_id[i];
  return low < sample_below_;
}

Span Tracer::make(SpanContext context, std::string name, otlp::SpanKind kind,
                  const trace::SpanId* parent_id, bool remote_parent) {
  Span span;
  span.tracer_ = this;
  span.context_ = context;
  if (sink_ == nullptr || !context.sampled) return span;
  span.data_ = std::make_unique<otlp::SpanData>();
  otlp::SpanData& data = *span.data_;
  data.trace_id = context.trace_id;
  data.span_id = context.span_id;
  if (parent_id != nullptr) {
    data.parent_span_id = *parent_id;
    data.has_parent = true;
    data.parent_is_remote = remote_parent;
  }
  data.trace_flags = context.flags();
  data.name = std::move(name);
  data.kind = kind;
  data.start_unix_nano = unix_nanos_now();
  data.attributes.reserve(8);
  return span;
}

Span Tracer::start_server(std::string name, std::string_view traceparent,
                          std::string_view tracestate, bool may_start_trace) {
  SpanContext context;
  context.span_id = random_id<8>();
  if (auto incoming = trace::parse_traceparent(traceparent)) {
    context.trace_id = incoming->trace_id;
    context.sampled = incoming->sampled();
    context.random = incoming->random();
    Span span = make(context, std::move(name), otlp::SpanKind::server, &incoming->parent_id,
                     /*remote_parent=*/true);
    if (span.recording() && !tracestate.empty()) {
      std::string normalized(tracestate.size(), '\0');
      const auto result = trace::normalize_tracestate(tracestate, normalized.data());
      if (result.status == trace::TraceStateStatus::ok) {
        normalized.resize(result.length);
        span.data_->trace_state = std::move(normalized);
      }
    }
    return span;
  }
  context.trace_id = random_id<16>();
  context.random = true;
  // Not exporting: the flag says nothing was recorded, as before tracing existed.
  context.sampled = may_start_trace && exporting() && sample_new_trace(context.trace_id);
  return make(context, std::move(name), otlp::SpanKind::server, nullptr, false);
}

Span Tracer::start_root(std::string name, otlp::SpanKind kind) {
  SpanContext context;
  context.trace_id = random_id<16>();
  context.span_id = random_id<8>();
  context.random = true;
  context.sampled = exporting() && sample_new_trace(context.trace_id);
  return make(context, std::move(name), kind, nullptr, false);
}

Span Tracer::start_child(const SpanContext& parent, std::string name, otlp::SpanKind kind) {
  if (!parent.valid()) return Span();
  if (!exporting() || !parent.sampled) {
    // Nothing will be recorded: the child is its parent's context again (no id drawn), which
    // is what log lines written in it name.
    Span span;
    span.tracer_ = this;
    span.context_ = parent;
    return span;
  }
  SpanContext context;
  context.trace_id = parent.trace_id;
  context.span_id = random_id<8>();
  context.sampled = parent.sampled;
  context.random = parent.random;
  return make(context, std::move(name), kind, &parent.span_id, false);
}

void Tracer::finish(otlp::SpanData&& span) noexcept {
  if (sink_ != nullptr) sink_->finished(std::move(span));
}

// ---- the current span ----------------------------------------------------------------------

bool Parent::recording() const noexcept {
  return valid() && context.sampled && tracer->exporting();
}

Span start_span(const Parent& parent, std::string name, otlp::SpanKind kind) {
  if (!parent.valid()) return Span();
  return parent.tracer->start_child(parent.context, std::move(name), kind);
}

Span start_span(std::string name, otlp::SpanKind kind) {
  return start_span(current_parent(), std::move(name), kind);
}

Span* current_span() noexcept {
  return t_current.span;
}

Parent current_parent() noexcept {
  return t_current.span != nullptr ? t_current.span->parent() : t_current.parent;
}

CurrentScope::CurrentScope(Span& span) noexcept
    : previous_span_(t_current.span), previous_parent_(t_current.parent) {
  t_current.span = &span;
  t_current.parent = Parent{};
}

CurrentScope::CurrentScope(const Parent& parent) noexcept
    : previous_span_(t_current.span), previous_parent_(t_current.parent) {
  t_current.span = nullptr;
  t_current.parent = parent;
}

CurrentScope::~CurrentScope() {
  t_current.span = previous_span_;
  t_current.parent = previous_parent_;
}

}  // namespace captain::tracing
