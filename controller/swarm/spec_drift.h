// Does a running service still have the spec we would give it? Docker echoes a service's spec
// with its own additions (defaults, Isolation, ...) and drops zero values (Go's omitempty), so
// the comparison is "actual covers expected": every field we set has the same value there, a
// field we set to a zero value (0, false, "", [], {}) may be absent, and extra fields in the
// actual spec are Docker's business.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace captain::swarm {

// Empty when `actual` covers `expected`, else the JSON path of the first difference
// ("TaskTemplate.ContainerSpec.Env[1]"), for the drift log line.
std::string spec_difference(const nlohmann::json& expected, const nlohmann::json& actual);

}  // namespace captain::swarm
