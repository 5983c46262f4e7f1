// controller/api/health_state and health_checks: the overall status is the worst check;
// readiness and /health's status come from the same report (never "ok" with a 503); store → down,
// Docker / nginx → degraded, nginx not managed → ok with a note.
#include <gtest/gtest.h>

#include <algorithm>

#include "controller/api/health_checks.h"
#include "controller/api/health_state.h"

namespace captain::api {
namespace {

constexpr HealthState kAllStates[] = {HealthState::ok, HealthState::degraded, HealthState::down};

HealthCheck check_in(HealthState state) {
  return {state, state == HealthState::ok ? "" : "because"};
}

HealthProbes probes_of(HealthState store, HealthState docker, HealthState nginx) {
  HealthProbes probes;
  probes.store = [store] { return check_in(store); };
  probes.docker = [docker] { return check_in(docker); };
  probes.nginx = [nginx] { return check_in(nginx); };
  return probes;
}

TEST(HealthState, NamesAreTheWordsHealthShows) {
  EXPECT_EQ(health_state_name(HealthState::ok), "ok");
  EXPECT_EQ(health_state_name(HealthState::degraded), "degraded");
  EXPECT_EQ(health_state_name(HealthState::down), "down");
}

TEST(HealthState, OverallStatusIsTheWorstCheck) {
  EXPECT_EQ(worst_of({}), HealthState::ok);
  for (HealthState store : kAllStates) {
    for (HealthState docker : kAllStates) {
      for (HealthState nginx : kAllStates) {
        const HealthReport report = assess(probes_of(store, docker, nginx));
        EXPECT_EQ(report.status, std::max({store, docker, nginx}));
        ASSERT_EQ(report.checks.size(), 3U);
        EXPECT_EQ(report.checks[0].name, "store");
        EXPECT_EQ(report.checks[1].name, "docker");
        EXPECT_EQ(report.checks[2].name, "nginx");
      }
    }
  }
}

// The property /health and /health/ready rest on: over every combination of checks, the body
// says "ok" exactly when /health/ready answers 200, and the body's "ready" agrees with both.
TEST(HealthState, HealthNeverSaysOkWhenReadyWouldAnswer503) {
  for (HealthState store : kAllStates) {
    for (HealthState docker : kAllStates) {
      for (HealthState nginx : kAllStates) {
        const HealthReport report = assess(probes_of(store, docker, nginx));
        const auto body = health_json(report, "1.2.3");
        const int code = ready_http_status(report);
        EXPECT_TRUE(code == 200 || code == 503);
        EXPECT_EQ(body["status"] == "ok", code == 200) << body.dump();
        EXPECT_EQ(body["ready"].get<bool>(), code == 200) << body.dump();
      }
    }
  }
}

TEST(HealthState, JsonShapeHasTypedChecksWithReasons) {
  HealthProbes probes;
  probes.store = [] { return HealthCheck::ok(); };
  probes.docker = [] { return HealthCheck::degraded("unreachable: no socket"); };
  probes.nginx = [] { return HealthCheck::ok("not managed"); };
  const auto body = health_json(assess(probes), "0.1.0");
  EXPECT_EQ(body.dump(), R"({"status":"degraded","ready":false,"version":"0.1.0","checks":{)"
                         R"("store":{"state":"ok","reason":""},)"
                         R"("docker":{"state":"degraded","reason":"unreachable: no socket"},)"
                         R"("nginx":{"state":"ok","reason":"not managed"}}})");
}

TEST(HealthState, AMissingProbeIsDownNeverOk) {
  HealthProbes probes;
  probes.store = [] { return HealthCheck::ok(); };
  probes.docker = [] { return HealthCheck::ok(); };
  const HealthReport report = assess(probes);
  EXPECT_EQ(report.checks[2].check.state, HealthState::down);
  EXPECT_FALSE(report.checks[2].check.reason.empty());
  EXPECT_EQ(report.status, HealthState::down);
  EXPECT_EQ(ready_http_status(report), 503);
}

TEST(HealthChecks, AnUnusableStoreIsDown) {
  EXPECT_EQ(store_check(std::nullopt).state, HealthState::ok);
  EXPECT_EQ(store_check(std::nullopt).reason, "");
  const HealthCheck broken = store_check(std::string("database is locked"));
  EXPECT_EQ(broken.state, HealthState::down);
  EXPECT_EQ(broken.reason, "database is locked");
  EXPECT_FALSE(store_check(std::string()).reason.empty());
}

TEST(HealthChecks, AnUnusableDockerIsDegradedWithItsReason) {
  EXPECT_EQ(docker_check("ok").state, HealthState::ok);
  for (const char* state : {"connecting", "unreachable: cannot connect to /x.sock",
                            "this node is not a swarm manager"}) {
    const HealthCheck check = docker_check(state);
    EXPECT_EQ(check.state, HealthState::degraded) << state;
    EXPECT_EQ(check.reason, state);
  }
  EXPECT_FALSE(docker_check("").reason.empty());
}

TEST(HealthChecks, NginxNotRunningOrFailingIsDegraded) {
  EXPECT_EQ(nginx_check(std::string("ok")).state, HealthState::ok);
  for (const char* state : {"starting",
                            "nginx not running; it starts with the generated "
                            "configuration",
                            "nginx: [emerg] unknown directive \"bogus\""}) {
    const HealthCheck check = nginx_check(std::string(state));
    EXPECT_EQ(check.state, HealthState::degraded) << state;
    EXPECT_EQ(check.reason, state);
  }
}

// nginx_reload=off: no nginx is ours to check, so it says so and keeps the controller ready.
TEST(HealthChecks, NginxNotManagedIsOkWithANoteAndStaysReady) {
  const HealthCheck check = nginx_check(std::nullopt);
  EXPECT_EQ(check.state, HealthState::ok);
  EXPECT_EQ(check.reason.rfind("not managed", 0), 0U) << check.reason;

  HealthProbes probes;
  probes.store = [] { return store_check(std::nullopt); };
  probes.docker = [] { return docker_check("ok"); };
  probes.nginx = [] { return nginx_check(std::nullopt); };
  const HealthReport report = assess(probes);
  EXPECT_EQ(report.status, HealthState::ok);
  EXPECT_TRUE(report.ready());
  EXPECT_EQ(ready_http_status(report), 200);
}

}  // namespace
}  // namespace captain::api
