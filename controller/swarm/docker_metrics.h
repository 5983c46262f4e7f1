// Docker Engine API calls as Prometheus series on the controller's /metrics:
//   captain_docker_requests_total{family,outcome}        outcome = ok or a DockerError kind
//   captain_docker_request_duration_seconds{family}       histogram of call latency
//   captain_docker_circuit_breaker_state{family,state}    1 for the breaker's current state
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "controller/swarm/circuit_breaker.h"

namespace captain::swarm {

class DockerMetrics {
 public:
  void record(std::string_view family, std::string_view outcome,
              std::chrono::steady_clock::duration elapsed);
  void render(std::string& out, BreakerRegistry& breakers, CircuitBreaker::TimePoint now) const;

 private:
  static constexpr std::array<double, 10> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,  0.1,    0.25,  1.0,  5.0};
  struct Histogram {
    std::array<std::uint64_t, kBounds.size() + 1> counts{};
    double sum = 0;
  };
  mutable std::mutex mutex_;  // held only to bump or copy counters
  std::map<std::pair<std::string, std::string>, std::uint64_t> calls_;
  std::map<std::string, Histogram> latency_;
};

}  // namespace captain::swarm
