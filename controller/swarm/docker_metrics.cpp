#include "controller/swarm/docker_metrics.h"

#include <algorithm>

#include "shared/metrics/exposition.h"

namespace captain::swarm {

void DockerMetrics::record(std::string_view family, std::string_view outcome,
                           std::chrono::steady_clock::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin());
  std::lock_guard lock(mutex_);
  ++calls_[{std::string(family), std::string(outcome)}];
  Histogram& h = latency_[std::string(family)];
  ++h.counts[bucket];
  h.sum += seconds;
}

void DockerMetrics::render(std::string& out, BreakerRegistry& breakers,
                           CircuitBreaker::TimePoint now) const {
  decltype(calls_) calls;
  decltype(latency_) latency;
  {
    std::lock_guard lock(mutex_);
    calls = calls_;
    latency = latency_;
  }
  metrics::TextWriter w(out);
  w.family("captain_docker_requests_total", metrics::MetricType::counter,
           "Docker Engine API calls by endpoint family and outcome (ok or the error kind).");
  for (const auto& [key, count] : calls) {
    w.sample("captain_docker_requests_total", {{"family", key.first}, {"outcome", key.second}},
             count);
  }
  w.family("captain_docker_request_duration_seconds", metrics::MetricType::histogram,
           "Latency of Docker Engine API calls, each attempt counted once.");
  for (const auto& [family, h] : latency) {
    w.histogram("captain_docker_request_duration_seconds", {{"family", family}}, kBounds.data(),
                h.counts.data(), kBounds.size(), h.sum);
  }
  w.family("captain_docker_circuit_breaker_state", metrics::MetricType::gauge,
           "1 for the current state of each endpoint family's circuit breaker.");
  for (const auto& [family, state] : breakers.snapshot(now)) {
    for (const auto candidate : {CircuitBreaker::State::closed, CircuitBreaker::State::open,
                                 CircuitBreaker::State::half_open}) {
      w.sample("captain_docker_circuit_breaker_state",
               {{"family", family}, {"state", to_string(candidate)}},
               std::uint64_t{state == candidate ? 1u : 0u});
    }
  }
}

}  // namespace captain::swarm
