// controller/swarm/docker_metrics: Docker Engine API calls and breaker states as Prometheus text.
#include "controller/swarm/docker_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "controller/swarm/circuit_breaker.h"

namespace captain::swarm {
namespace {

using std::chrono::milliseconds;
using State = CircuitBreaker::State;

const CircuitBreaker::TimePoint kNow = CircuitBreaker::TimePoint(std::chrono::hours(1000));

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

// The sample lines starting with `prefix`.
std::vector<std::string> samples(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& l : lines_of(text)) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  return out;
}

BreakerConfig threshold_one() {
  BreakerConfig config;
  config.failure_threshold = 1;
  config.failure_ratio = 2.0;
  config.reset_timeout = std::chrono::seconds(30);
  return config;
}

TEST(DockerMetrics, RequestCountsByFamilyAndOutcome) {
  DockerMetrics metrics;
  BreakerRegistry breakers;
  metrics.record("services", "ok", milliseconds(3));
  metrics.record("services", "ok", milliseconds(40));
  metrics.record("services", "conflict", milliseconds(2));
  metrics.record("tasks", "ok", milliseconds(1));
  metrics.record("images", "timeout", std::chrono::seconds(30));

  std::string out;
  metrics.render(out, breakers, kNow);
  EXPECT_TRUE(has_line(out, R"(captain_docker_requests_total{family="services",outcome="ok"} 2)"))
      << out;
  EXPECT_TRUE(
      has_line(out, R"(captain_docker_requests_total{family="services",outcome="conflict"} 1)"));
  EXPECT_TRUE(has_line(out, R"(captain_docker_requests_total{family="tasks",outcome="ok"} 1)"));
  EXPECT_TRUE(
      has_line(out, R"(captain_docker_requests_total{family="images",outcome="timeout"} 1)"));
  EXPECT_EQ(samples(out, "captain_docker_requests_total{").size(), 4u) << out;
  EXPECT_TRUE(has_line(out, "# TYPE captain_docker_requests_total counter"));
  EXPECT_TRUE(has_line(out, "# TYPE captain_docker_request_duration_seconds histogram"));
  EXPECT_TRUE(has_line(out, "# TYPE captain_docker_circuit_breaker_state gauge"));
}

TEST(DockerMetrics, LatencyHistogramPerFamily) {
  DockerMetrics metrics;
  BreakerRegistry breakers;
  metrics.record("services", "ok", milliseconds(250));  // exactly on a bound: le="0.25"
  metrics.record("services", "conflict", milliseconds(500));
  metrics.record("services", "ok", std::chrono::seconds(10));  // above every bound
  metrics.record("tasks", "ok", std::chrono::microseconds(500));

  std::string out;
  metrics.render(out, breakers, kNow);
  const std::string h = "captain_docker_request_duration_seconds";
  EXPECT_TRUE(has_line(out, h + R"(_count{family="services"} 3)")) << out;
  EXPECT_TRUE(has_line(out, h + R"(_count{family="tasks"} 1)"));
  EXPECT_TRUE(has_line(out, h + R"(_sum{family="services"} 10.75)"));
  EXPECT_TRUE(has_line(out, h + R"(_bucket{family="services",le="0.1"} 0)"));
  EXPECT_TRUE(has_line(out, h + R"(_bucket{family="services",le="0.25"} 1)"));
  EXPECT_TRUE(has_line(out, h + R"(_bucket{family="services",le="1"} 2)"));
  EXPECT_TRUE(has_line(out, h + R"(_bucket{family="services",le="5"} 2)"));
  EXPECT_TRUE(has_line(out, h + R"(_bucket{family="services",le="+Inf"} 3)"));
  EXPECT_TRUE(has_line(out, h + R"(_bucket{family="tasks",le="0.001"} 1)"));
  // Eleven buckets (ten bounds and +Inf) per family that saw a call, none for the others.
  EXPECT_EQ(samples(out, h + R"(_bucket{family="services",)").size(), 11u);
  EXPECT_TRUE(samples(out, h + R"(_bucket{family="images",)").empty());
}

TEST(DockerMetrics, NothingRecordedStillListsEveryBreaker) {
  DockerMetrics metrics;
  BreakerRegistry breakers;
  std::string out;
  metrics.render(out, breakers, kNow);
  EXPECT_TRUE(samples(out, "captain_docker_requests_total{").empty());
  EXPECT_TRUE(samples(out, "captain_docker_request_duration_seconds_").empty());
  for (const auto family : BreakerRegistry::kFamilies) {
    const std::string prefix =
        "captain_docker_circuit_breaker_state{family=\"" + std::string(family) + "\",";
    EXPECT_EQ(samples(out, prefix).size(), 3u) << family;
    EXPECT_TRUE(has_line(out, prefix + "state=\"closed\"} 1")) << family;
    EXPECT_TRUE(has_line(out, prefix + "state=\"open\"} 0")) << family;
    EXPECT_TRUE(has_line(out, prefix + "state=\"half_open\"} 0")) << family;
  }
}

TEST(DockerMetrics, ExactlyOneStatePerBreaker) {
  DockerMetrics metrics;
  BreakerRegistry breakers(threshold_one());
  CircuitBreaker& services = breakers.get("services");
  ASSERT_TRUE(services.allow(kNow));
  services.record_failure(kNow);
  ASSERT_EQ(services.state(kNow), State::open);
  metrics.record("services", "unavailable", milliseconds(5));
  // A family outside the pre-created ones gets a breaker (and series) of its own.
  breakers.get("plugins").record_success(kNow);

  std::string out;
  metrics.render(out, breakers, kNow);
  const std::string g = "captain_docker_circuit_breaker_state";
  EXPECT_TRUE(has_line(out, g + R"({family="services",state="open"} 1)")) << out;
  EXPECT_TRUE(has_line(out, g + R"({family="services",state="closed"} 0)"));
  EXPECT_TRUE(has_line(out, g + R"({family="services",state="half_open"} 0)"));
  EXPECT_TRUE(has_line(out, g + R"({family="tasks",state="closed"} 1)"));
  EXPECT_TRUE(has_line(out, g + R"({family="plugins",state="closed"} 1)"));

  // Per family: three series, exactly one of them 1.
  std::map<std::string, int> ones;
  std::map<std::string, int> series;
  for (const auto& line : samples(out, g + "{family=\"")) {
    const std::size_t start = line.find('"') + 1;
    const std::string family = line.substr(start, line.find('"', start) - start);
    ++series[family];
    if (line.size() >= 2 && line.compare(line.size() - 2, 2, " 1") == 0) ++ones[family];
  }
  EXPECT_EQ(series.size(), BreakerRegistry::kFamilies.size() + 1);
  for (const auto& [family, count] : series) {
    EXPECT_EQ(count, 3) << family;
    EXPECT_EQ(ones[family], 1) << family;
  }

  // After reset_timeout the open breaker reads half_open.
  out.clear();
  metrics.render(out, breakers, kNow + std::chrono::seconds(31));
  EXPECT_TRUE(has_line(out, g + R"({family="services",state="half_open"} 1)")) << out;
  EXPECT_TRUE(has_line(out, g + R"({family="services",state="open"} 0)"));
}

TEST(DockerMetrics, RenderAppendsToExistingOutput) {
  DockerMetrics metrics;
  BreakerRegistry breakers;
  metrics.record("system", "ok", milliseconds(1));
  std::string out = "# earlier family\n";
  metrics.render(out, breakers, kNow);
  EXPECT_EQ(out.rfind("# earlier family\n", 0), 0u);
  EXPECT_TRUE(has_line(out, R"(captain_docker_requests_total{family="system",outcome="ok"} 1)"));
}

}  // namespace
}  // namespace captain::swarm
