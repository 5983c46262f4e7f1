#include "controller/nginx/routing_table.h"

#include <algorithm>

#include "controller/swarm/service_spec.h"

namespace captain::nginx {
namespace {

using Json = nlohmann::json;

const Json& at(const Json& object, const char* key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string string_at(const Json& object, const char* key) {
  const Json& value = at(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

}  // namespace

RoutingTable routing_from_swarm(const Json& services, const Json& tasks,
                                const std::map<std::string, int>& http_ports) {
  std::map<std::string, std::string> app_of_service;  // service ID -> app
  if (services.is_array()) {
    for (const Json& service : services) {
      const std::string app = string_at(at(at(service, "Spec"), "Labels"), swarm::kAppLabel);
      const std::string id = string_at(service, "ID");
      if (!app.empty() && !id.empty()) app_of_service[id] = app;
    }
  }
  RoutingTable table;
  if (!tasks.is_array()) return table;
  for (const Json& task : tasks) {
    auto service = app_of_service.find(string_at(task, "ServiceID"));
    if (service == app_of_service.end()) continue;
    const Json& status = at(task, "Status");
    if (string_at(status, "State") != "running" || string_at(task, "DesiredState") != "running") {
      continue;
    }
    const std::string& app = service->second;
    table.routable_apps.insert(app);
    auto http_port = http_ports.find(app);
    const Json& ports = at(at(status, "PortStatus"), "Ports");
    if (http_port == http_ports.end() || !ports.is_array()) continue;
    for (const Json& port : ports) {
      const Json& target = at(port, "TargetPort");
      const Json& published = at(port, "PublishedPort");
      if (string_at(port, "PublishMode") != "host" || !target.is_number_integer() ||
          target.get<int>() != http_port->second || !published.is_number_integer()) {
        continue;
      }
      const int value = published.get<int>();
      if (value > 0 && value <= 65535) {
        table.published_ports[app].push_back(static_cast<std::uint16_t>(value));
      }
    }
  }
  for (auto& [app, ports] : table.published_ports) {
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  }
  return table;
}

}  // namespace captain::nginx
