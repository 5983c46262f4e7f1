// Health endpoints. /health/live says the process serves HTTP; /health/ready (Docker and nginx
// reachable) arrives with those stages and will take their probes as constructor arguments.
#pragma once

#include <httplib.h>

namespace captain::api {

inline constexpr const char* kJsonContentType = "application/json";

// GET /health/live -> 200 {"status":"ok"}.
void register_health_routes(httplib::Server& http);

}  // namespace captain::api
