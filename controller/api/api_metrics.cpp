#include "controller/api/api_metrics.h"

#include <algorithm>

#include "shared/metrics/exposition.h"

namespace captain::api {

void ApiMetrics::record_request(const std::string& route, const std::string& method,
                                int http_status, int api_status,
                                std::chrono::steady_clock::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin());
  std::lock_guard lock(mutex_);
  ++requests_[{route, method, http_status, api_status}];
  auto& histogram = durations_[route];
  ++histogram.counts[bucket];
  histogram.sum += seconds;
}

void ApiMetrics::record_store_error() {
  std::lock_guard lock(mutex_);
  ++store_errors_;
}

void ApiMetrics::record_login(LoginResult result) {
  std::lock_guard lock(mutex_);
  ++logins_[static_cast<std::size_t>(result)];
}

std::string ApiMetrics::render_prometheus() const {
  using metrics::MetricType;
  std::string out;
  metrics::TextWriter w(out);
  std::lock_guard lock(mutex_);

  w.family("captain_controller_api_requests_total", MetricType::counter,
           "API requests by route pattern, method, HTTP status and CapRover API status "
           "(0 when the response carried no envelope).");
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, http_status, api_status] = key;
    const std::string http = std::to_string(http_status);
    const std::string api = std::to_string(api_status);
    w.sample("captain_controller_api_requests_total",
             {{"route", route}, {"method", method}, {"status", http}, {"api_status", api}}, count);
  }

  w.family("captain_controller_api_request_duration_seconds", MetricType::histogram,
           "Time from request parsed to response ready, by route pattern.");
  for (const auto& [route, histogram] : durations_) {
    w.histogram("captain_controller_api_request_duration_seconds", {{"route", route}},
                kBounds.data(), histogram.counts.data(), kBounds.size(), histogram.sum);
  }

  w.family("captain_controller_store_errors_total", MetricType::counter,
           "Store operations that failed (SQLite errors, not validation refusals).");
  w.sample("captain_controller_store_errors_total", {}, store_errors_);

  w.family("captain_controller_logins_total", MetricType::counter, "Login attempts by result.");
  constexpr std::array<const char*, 4> kResults{"success", "wrong_password", "back_off", "invalid"};
  for (std::size_t i = 0; i < kResults.size(); ++i) {
    w.sample("captain_controller_logins_total", {{"result", kResults[i]}}, logins_[i]);
  }
  return out;
}

}  // namespace captain::api
