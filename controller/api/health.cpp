#include "controller/api/health.h"

#include <nlohmann/json.hpp>

#include "controller/log/json_log.h"
#include "shared/metrics/exposition.h"

namespace captain::api {
namespace {

constexpr const char* kVersion = "0.1.0";

nlohmann::ordered_json checks_of(const HealthProbes& probes, bool& all_ok) {
  nlohmann::ordered_json checks;
  const std::pair<const char*, const std::function<std::string()>*> items[] = {
      {"store", &probes.store}, {"docker", &probes.docker}, {"nginx", &probes.nginx}};
  all_ok = true;
  for (const auto& [name, probe] : items) {
    const std::string state = *probe ? (*probe)() : "not connected";
    checks[name] = state;
    all_ok = all_ok && (state == "ok" || state == "not managed");
  }
  return checks;
}

}  // namespace

void register_health_routes(http::Router& http, HealthProbes probes, ApiMetrics& metrics,
                            MetricsSource more_metrics) {
  // The priority lane: answerable while every other worker is busy.
  http::RouteOptions priority;
  priority.lane = http::Lane::priority;
  http.get(
      "/health/live",
      [](http::Request&, http::Response& res) {
        res.status = 200;
        res.set_content(R"({"status":"ok"})", kJsonContentType);
      },
      priority);
  http.get(
      "/health",
      [probes](http::Request&, http::Response& res) {
        bool ready = false;
        nlohmann::ordered_json body;
        body["status"] = "ok";
        body["version"] = kVersion;
        body["checks"] = checks_of(probes, ready);
        body["ready"] = ready;
        res.status = 200;
        res.set_content(logging::dump_json(body), kJsonContentType);
      },
      priority);
  http.get(
      "/health/ready",
      [probes](http::Request&, http::Response& res) {
        bool ready = false;
        nlohmann::ordered_json body;
        body["checks"] = checks_of(probes, ready);
        body["status"] = ready ? "ready" : "not ready";
        res.status = ready ? 200 : 503;
        res.set_content(logging::dump_json(body), kJsonContentType);
      },
      priority);
  http.get("/metrics", [&metrics, more_metrics](http::Request&, http::Response& res) {
    std::string out;
    metrics::TextWriter w(out);
    w.family("captain_controller_build_info", metrics::MetricType::gauge,
             "Always 1; the controller's version as a label.");
    w.sample("captain_controller_build_info", {{"version", kVersion}}, std::uint64_t{1});
    out += metrics.render_prometheus();
    if (more_metrics) more_metrics(out);
    res.status = 200;
    res.set_content(out, std::string(metrics::kTextContentType).c_str());
  });
}

}  // namespace captain::api
