#include "controller/api/health.h"

#include "controller/api/version.h"
#include "controller/log/json_log.h"
#include "shared/metrics/exposition.h"

namespace captain::api {
namespace {

// /health and /health/ready: one report, one body; only the HTTP status differs.
void answer_health(const HealthProbes& probes, bool readiness, http::Response& res) {
  const HealthReport report = assess(probes);
  res.status = readiness ? ready_http_status(report) : 200;
  res.set_content(logging::dump_json(health_json(report, kControllerVersion)), kJsonContentType);
}

}  // namespace

void register_health_routes(http::Router& http, HealthProbes probes, ApiMetrics& metrics,
                            MetricsSource more_metrics) {
  // The priority lane: answerable while every other worker is busy. Probes and scrapes come
  // every few seconds: traced only when the caller's traceparent is sampled.
  http::RouteOptions priority;
  priority.lane = http::Lane::priority;
  priority.starts_traces = false;
  http::RouteOptions scrape;
  scrape.starts_traces = false;
  http.get(
      "/health/live",
      [](http::Request&, http::Response& res) {
        res.status = 200;
        res.set_content(R"({"status":"ok"})", kJsonContentType);
      },
      priority);
  http.get(
      "/health",
      [probes](http::Request&, http::Response& res) { answer_health(probes, false, res); },
      priority);
  http.get(
      "/health/ready",
      [probes](http::Request&, http::Response& res) { answer_health(probes, true, res); },
      priority);
  http.get(
      "/metrics",
      [&metrics, more_metrics](http::Request&, http::Response& res) {
        std::string out;
        metrics::TextWriter w(out);
        w.family("captain_controller_build_info", metrics::MetricType::gauge,
                 "Always 1; the controller's version as a label.");
        w.sample("captain_controller_build_info", {{"version", kControllerVersion}},
                 std::uint64_t{1});
        out += metrics.render_prometheus();
        if (more_metrics) more_metrics(out);
        res.status = 200;
        res.set_content(out, std::string(metrics::kTextContentType).c_str());
      },
      scrape);
}

}  // namespace captain::api
