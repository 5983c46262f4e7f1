#include "controller/api/health.h"

namespace captain::api {

void register_health_routes(httplib::Server& http) {
  http.Get("/health/live", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(R"({"status":"ok"})", kJsonContentType);
  });
}

}  // namespace captain::api
