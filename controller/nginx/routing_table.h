// Which apps nginx may route to, read from Swarm: an app is routable once one of its tasks is
// running (so nginx never proxies to a service with nothing behind it, the CapRover 502 /
// "host not found" window after a deploy), and in published_port mode the host ports its
// running tasks publish. Pure: parses the JSON of GET /services and GET /tasks.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace captain::nginx {

struct RoutingTable {
  std::set<std::string> routable_apps;
  std::map<std::string, std::vector<std::uint16_t>> published_ports;  // sorted, no duplicates
  friend bool operator==(const RoutingTable&, const RoutingTable&) = default;
};

// `services`: GET /services filtered on our label; `tasks`: GET /tasks (desired state
// running); `http_ports`: app name -> containerHttpPort (the port whose host-mode
// publication nginx uses). Malformed entries are skipped, never thrown on.
RoutingTable routing_from_swarm(const nlohmann::json& services, const nlohmann::json& tasks,
                                const std::map<std::string, int>& http_ports);

}  // namespace captain::nginx
