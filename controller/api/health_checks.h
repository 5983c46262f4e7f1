// What each dependency's state means for the controller as a whole, in one place:
//   store unusable          → down      (nothing works without it, not even login)
//   Docker unusable         → degraded  (the API serves, but deploys and Swarm changes do not)
//   nginx unusable          → degraded  (the API serves, but ingress is not what the store says)
//   nginx not managed       → ok, with a note (nginx_reload=off: no nginx is ours to check)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "controller/api/health_state.h"

namespace captain::api {

// The text the lower stages report (Deployer::docker_state, NginxManager::state) is "ok" or why
// the dependency cannot be used now; these turn it into a graded check.
inline constexpr std::string_view kUsable = "ok";

// `problem`: nullopt when a trivial query succeeded, else the store's error.
HealthCheck store_check(const std::optional<std::string>& problem);

// `docker_state`: Deployer::docker_state().
HealthCheck docker_check(std::string_view docker_state);

// `nginx_state`: NginxManager::state(), or nullopt when the controller drives no nginx.
HealthCheck nginx_check(const std::optional<std::string>& nginx_state);

}  // namespace captain::api
