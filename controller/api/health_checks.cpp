#include "controller/api/health_checks.h"

namespace captain::api {
namespace {

// A check that is not ok always says why, even when the stage below gave no words.
std::string reason_or(std::string_view reason, std::string_view fallback) {
  return std::string(reason.empty() ? fallback : reason);
}

}  // namespace

HealthCheck store_check(const std::optional<std::string>& problem) {
  if (!problem) return HealthCheck::ok();
  return HealthCheck::down(reason_or(*problem, "the store failed without a message"));
}

HealthCheck docker_check(std::string_view docker_state) {
  if (docker_state == kUsable) return HealthCheck::ok();
  return HealthCheck::degraded(reason_or(docker_state, "Docker state unknown"));
}

HealthCheck nginx_check(const std::optional<std::string>& nginx_state) {
  if (!nginx_state) {
    return HealthCheck::ok("not managed: nginx_reload is off, this controller drives no nginx");
  }
  if (*nginx_state == kUsable) return HealthCheck::ok();
  return HealthCheck::degraded(reason_or(*nginx_state, "nginx state unknown"));
}

}  // namespace captain::api
