// The controller's own Prometheus metrics (GET /metrics): API requests by route and result,
// latency, store errors and logins. Written with the same text writer as the module's status
// endpoint (shared/metrics/exposition.h), so both expositions look alike.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace captain::api {

enum class LoginResult { success, wrong_password, back_off, invalid };

class ApiMetrics {
 public:
  // route is the registered pattern ("/api/v2/user/apps/appData/:app"), never the raw path, so
  // the series count stays bounded whatever clients send.
  void record_request(const std::string& route, const std::string& method, int http_status,
                      int api_status, std::chrono::steady_clock::duration elapsed);
  void record_store_error();
  void record_login(LoginResult result);

  std::string render_prometheus() const;

 private:
  static constexpr std::array<double, 10> kBounds{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                  0.025,  0.05,  0.1,    0.25,  1.0};
  struct Histogram {
    std::array<std::uint64_t, kBounds.size() + 1> counts{};
    double sum = 0;
  };

  mutable std::mutex mutex_;  // a scrape and the API threads; never held across I/O
  std::map<std::tuple<std::string, std::string, int, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> durations_;
  std::uint64_t store_errors_ = 0;
  std::array<std::uint64_t, 4> logins_{};
};

}  // namespace captain::api
