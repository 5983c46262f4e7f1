// Health and metrics endpoints (no token: they sit outside /api/v2).
//   GET /health        200 with the overall status and each dependency's typed check (for
//                      humans and dashboards: always 200, the status is in the body)
//   GET /health/live   200 while the process serves HTTP
//   GET /health/ready  the same body as /health; 200 only when its status is "ok", else 503
//   GET /metrics       Prometheus text 0.0.4
// Both bodies come from one assess() per request (health_state.h), so they cannot disagree.
#pragma once

#include <functional>
#include <string>

#include "controller/api/api_metrics.h"
#include "controller/api/health_state.h"
#include "controller/http/router.h"

namespace captain::api {

inline constexpr const char* kJsonContentType = "application/json";

// Appends more families to the /metrics exposition (the Docker client's).
using MetricsSource = std::function<void(std::string& out)>;

void register_health_routes(http::Router& http, HealthProbes probes, ApiMetrics& metrics,
                            MetricsSource more_metrics = {});

}  // namespace captain::api
