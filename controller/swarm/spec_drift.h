// Does a running service still have the spec we would give it? Docker echoes a service's spec
// with its own additions (defaults, Isolation, ...) and drops zero values (Go's omitempty), so
// the comparison is "actual covers expected": every field we set has the same value there, a
// field we set to a zero value (0, false, "", [], {}) may be absent, and extra fields in the
// actual spec are Docker's business.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace captain::swarm {

// What differs, field by field: the JSON path of each field we set that the service does not
// have ("TaskTemplate.ContainerSpec.Env[1]"), in spec order.
struct SpecDrift {
  std::vector<std::string> fields;
  bool image = false;  // the container image differs: it may have to be pulled first

  bool empty() const { return fields.empty(); }
  // "A, B and 3 more", for a log line.
  std::string summary(std::size_t shown = 5) const;
};

SpecDrift spec_drift(const nlohmann::json& expected, const nlohmann::json& actual);

}  // namespace captain::swarm
