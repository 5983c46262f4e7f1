// Health and metrics endpoints (no token: they sit outside /api/v2).
//   GET /health        200 with each dependency's state (never fails: for humans and dashboards)
//   GET /health/live   200 while the process serves HTTP
//   GET /health/ready  200 only when the store, Docker and nginx are all usable, else 503
//   GET /metrics       Prometheus text 0.0.4
#pragma once

#include <functional>
#include <string>

#include "controller/api/api_metrics.h"
#include "controller/http/router.h"

namespace captain::api {

inline constexpr const char* kJsonContentType = "application/json";

struct HealthProbes {
  // Each returns "ok" or what is wrong ("unreachable: ...", the store's error...). "not
  // managed" (nginx before the controller drives one) does not make the controller unready.
  std::function<std::string()> store;
  std::function<std::string()> docker;
  std::function<std::string()> nginx;
};

// Appends more families to the /metrics exposition (the Docker client's).
using MetricsSource = std::function<void(std::string& out)>;

void register_health_routes(http::Router& http, HealthProbes probes, ApiMetrics& metrics,
                            MetricsSource more_metrics = {});

}  // namespace captain::api
