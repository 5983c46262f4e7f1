#include "controller/trace/span_export.h"

#include <limits.h>
#include <unistd.h>

#include <utility>

#include "shared/metrics/exposition.h"

namespace captain::tracing {

otlp::Resource controller_resource(std::string_view service_name, std::string_view version) {
  otlp::Resource resource;
  resource.attributes.push_back({"service.name", std::string(service_name)});
  resource.attributes.push_back({"service.version", std::string(version)});
  char host[HOST_NAME_MAX + 1] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') {
    resource.attributes.push_back({"host.name", std::string(host)});
  }
  return resource;
}

SpanExport::SpanExport(ExportSettings settings, otlp::Resource resource, otlp::Scope scope,
                       logging::JsonLog& log)
    : batch_(settings.batch == 0 ? 1 : settings.batch),
      log_(log),
      queue_(settings.queue),
      exporter_(
          otlp::ExportConfig{settings.url, settings.batch, settings.interval, settings.timeout},
          std::move(resource), std::move(scope), queue_,
          [this](const otlp::BatchOutcome& outcome) { on_outcome(outcome); }) {}

SpanExport::~SpanExport() {
  exporter_.stop(std::chrono::milliseconds(0));
}

bool SpanExport::start(std::string* error) {
  return exporter_.start(error);
}

void SpanExport::stop(std::chrono::milliseconds flush_budget) {
  exporter_.stop(flush_budget);
}

void SpanExport::finished(otlp::SpanData&& span) noexcept {
  try {
    if (!queue_.push(std::move(span))) return;  // full: counted by the queue
  } catch (...) {
    return;  // out of memory: the span is lost, the request is not
  }
  if (queue_.pending() >= batch_) exporter_.wake();
}

void SpanExport::on_outcome(const otlp::BatchOutcome& outcome) {
  if (outcome.delivered) {
    exported_.fetch_add(outcome.spans, std::memory_order_relaxed);
  } else {
    export_failed_.fetch_add(outcome.spans, std::memory_order_relaxed);
  }
  // Logged when export starts failing and when it recovers, not for every batch.
  bool changed = false;
  {
    std::lock_guard lock(state_mutex_);
    changed = failing_ == outcome.delivered;
    failing_ = !outcome.delivered;
  }
  if (!changed) return;
  if (outcome.delivered) {
    log_.info("trace export recovered", {{"spans", outcome.spans}});
  } else {
    log_.warn(
        "trace export failed; spans are dropped until the collector answers",
        {{"spans", outcome.spans}, {"http_status", outcome.http_status}, {"error", outcome.error}});
  }
}

void render_trace_metrics(std::string& out, const SpanExport* exporter) {
  metrics::TextWriter w(out);
  w.family("captain_controller_trace_spans_exported_total", metrics::MetricType::counter,
           "Spans of the controller's own traces the OTLP collector accepted.");
  w.sample("captain_controller_trace_spans_exported_total", {},
           exporter != nullptr ? exporter->exported() : std::uint64_t{0});
  w.family("captain_controller_trace_spans_dropped_total", metrics::MetricType::counter,
           "Spans not exported: queue_full (ended while trace_export_queue spans waited), "
           "export_failed (the collector did not accept their batch, or the shutdown flush ran "
           "out of time).");
  w.sample("captain_controller_trace_spans_dropped_total", {{"reason", "queue_full"}},
           exporter != nullptr ? exporter->dropped_queue_full() : std::uint64_t{0});
  w.sample("captain_controller_trace_spans_dropped_total", {{"reason", "export_failed"}},
           exporter != nullptr ? exporter->dropped_export_failed() : std::uint64_t{0});
}

}  // namespace captain::tracing
