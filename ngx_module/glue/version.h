// The module's version, reported by captain_build_info (kept in step with CMakeLists.txt).
#pragma once

namespace captain::glue {

inline constexpr const char kModuleVersion[] = "0.1.0";

}  // namespace captain::glue
