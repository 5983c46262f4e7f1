// Typed health: each dependency's check is ok, degraded or down with a reason; the overall status
// is the worst of them, and readiness is derived from that same status, so /health can never say
// "ok" while /health/ready answers 503.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace captain::api {

// Ordered from best to worst: the overall status is the greatest value among the checks.
enum class HealthState { ok = 0, degraded = 1, down = 2 };

// "ok", "degraded", "down": the words /health shows.
std::string_view health_state_name(HealthState state);

struct HealthCheck {
  HealthState state = HealthState::ok;
  // Why the dependency is not ok. Empty for a plain ok; an ok may carry a note (nginx "not
  // managed"), so clients read `state`, never whether a reason is present.
  std::string reason;

  static HealthCheck ok(std::string note = {}) { return {HealthState::ok, std::move(note)}; }
  static HealthCheck degraded(std::string reason) {
    return {HealthState::degraded, std::move(reason)};
  }
  static HealthCheck down(std::string reason) { return {HealthState::down, std::move(reason)}; }
};

// One function per dependency, asked on every /health request (cheap: they read cached states,
// except the store's SELECT 1). A missing probe counts as down: nothing unchecked is called ok.
struct HealthProbes {
  std::function<HealthCheck()> store;
  std::function<HealthCheck()> docker;
  std::function<HealthCheck()> nginx;
};

struct NamedCheck {
  std::string name;
  HealthCheck check;
};

struct HealthReport {
  HealthState status = HealthState::ok;  // the worst of `checks`
  std::vector<NamedCheck> checks;        // store, docker, nginx: the order /health shows

  // Ready means nothing is degraded or down: the one rule /health/ready answers by.
  bool ready() const { return status == HealthState::ok; }
};

// The worst of the checks' states (ok for none).
HealthState worst_of(const std::vector<NamedCheck>& checks);

// Runs every probe once and grades the result.
HealthReport assess(const HealthProbes& probes);

// The body of /health and /health/ready (the same for both):
//   {"status":"degraded","ready":false,"version":"0.1.0",
//    "checks":{"store":{"state":"ok","reason":""},"docker":{"state":"degraded","reason":"..."},
//              "nginx":{"state":"ok","reason":"not managed ..."}}}
nlohmann::ordered_json health_json(const HealthReport& report, std::string_view version);

// /health/ready's HTTP status: 200 when ready, else 503.
int ready_http_status(const HealthReport& report);

}  // namespace captain::api
