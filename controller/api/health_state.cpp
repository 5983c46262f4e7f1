#include "controller/api/health_state.h"

#include <algorithm>
#include <utility>

namespace captain::api {

std::string_view health_state_name(HealthState state) {
  switch (state) {
    case HealthState::ok:
      return "ok";
    case HealthState::degraded:
      return "degraded";
    case HealthState::down:
      return "down";
  }
  return "down";  // not reached: every enumerator is handled above
}

HealthState worst_of(const std::vector<NamedCheck>& checks) {
  HealthState worst = HealthState::ok;
  for (const auto& named : checks) worst = std::max(worst, named.check.state);
  return worst;
}

HealthReport assess(const HealthProbes& probes) {
  const std::pair<const char*, const std::function<HealthCheck()>*> items[] = {
      {"store", &probes.store}, {"docker", &probes.docker}, {"nginx", &probes.nginx}};
  HealthReport report;
  for (const auto& [name, probe] : items) {
    report.checks.push_back(
        {name, *probe ? (*probe)() : HealthCheck::down("no probe is wired for this check")});
  }
  report.status = worst_of(report.checks);
  return report;
}

nlohmann::ordered_json health_json(const HealthReport& report, std::string_view version) {
  nlohmann::ordered_json body;
  body["status"] = std::string(health_state_name(report.status));
  body["ready"] = report.ready();
  body["version"] = std::string(version);
  nlohmann::ordered_json checks = nlohmann::ordered_json::object();
  for (const auto& [name, check] : report.checks) {
    checks[name] = {{"state", std::string(health_state_name(check.state))},
                    {"reason", check.reason}};
  }
  body["checks"] = std::move(checks);
  return body;
}

int ready_http_status(const HealthReport& report) {
  return report.ready() ? 200 : 503;
}

}  // namespace captain::api
