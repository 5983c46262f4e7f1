// The controller's version, as /health, /metrics (captain_controller_build_info) and CapRover's
// versioninfo report it. Keep it equal to project(VERSION) in the top-level CMakeLists.txt.
#pragma once

#include <string_view>

namespace captain::api {

inline constexpr std::string_view kControllerVersion = "0.1.0";

}  // namespace captain::api
