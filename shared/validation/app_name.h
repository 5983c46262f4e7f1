// CapRover's app-name rule, shared by the controller (which accepts names) and the module (which
// builds upstream names such as srv-captain--<app> from them).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace captain::validation {

// CapRover refuses names of 50 characters or more; service and volume names are derived from
// the app name, so the bound keeps them within Docker's limits.
inline constexpr std::size_t kAppNameMaxLength = 49;

// True for names CapRover keeps for itself: "captain", "registry" and every "captain-..." name
// (captain-nginx, captain-certbot, captain-registry, captain-netdata, ...), which would collide
// with the platform's own services.
bool is_reserved_app_name(std::string_view name) noexcept;

// Empty when `name` is an acceptable app name; otherwise a sentence saying what is wrong.
// Rule: 1-49 characters of [a-z0-9-], starting and ending with [a-z0-9], no "--" (the
// separator in srv-captain--<app>), and not reserved.
std::string app_name_problem(std::string_view name);

}  // namespace captain::validation
