// Ships the controller's finished spans as OTLP/HTTP JSON: a bounded queue that any thread
// pushes to (otlp::LockedSpanQueue: a full queue drops and counts), drained by one
// otlp::BatchExporter thread; what became of every span is counted for /metrics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "controller/log/json_log.h"
#include "controller/trace/tracer.h"
#include "shared/otlp/batch_exporter.h"

namespace captain::tracing {

struct ExportSettings {
  std::string url;  // from otlp::traces_url()
  std::size_t batch = 512;
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{5000};  // per export request
  std::size_t queue = 2048;                 // spans waiting at most; more are dropped
};

// service.name, service.version and host.name (gethostname) for the export's Resource.
otlp::Resource controller_resource(std::string_view service_name, std::string_view version);

class SpanExport final : public SpanSink {
 public:
  // `log`: export failures are logged when they start and when export recovers.
  SpanExport(ExportSettings settings, otlp::Resource resource, otlp::Scope scope,
             logging::JsonLog& log);
  ~SpanExport() override;
  SpanExport(const SpanExport&) = delete;
  SpanExport& operator=(const SpanExport&) = delete;

  // Starts the export thread.
  bool start(std::string* error);
  // Ships what is queued within `flush_budget` (the rest counts as export_failed) and joins
  // the thread. Spans ended afterwards stay queued, unsent.
  void stop(std::chrono::milliseconds flush_budget);

  void finished(otlp::SpanData&& span) noexcept override;

  std::uint64_t exported() const noexcept { return exported_.load(std::memory_order_relaxed); }
  std::uint64_t dropped_queue_full() const noexcept { return queue_.dropped(); }
  std::uint64_t dropped_export_failed() const noexcept {
    return export_failed_.load(std::memory_order_relaxed);
  }

 private:
  void on_outcome(const otlp::BatchOutcome& outcome);

  const std::size_t batch_;
  logging::JsonLog& log_;
  otlp::LockedSpanQueue queue_;
  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> export_failed_{0};
  std::mutex state_mutex_;
  bool failing_ = false;          // guarded by state_mutex_: the last batch was not delivered
  otlp::BatchExporter exporter_;  // last: its thread uses the members above
};

// captain_controller_trace_spans_exported_total and
// captain_controller_trace_spans_dropped_total{reason="queue_full|export_failed"}; zeros when
// `exporter` is null (export off).
void render_trace_metrics(std::string& out, const SpanExport* exporter);

}  // namespace captain::tracing
