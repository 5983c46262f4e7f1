// routing_from_swarm: which apps nginx routes to, from the JSON Docker returns.
#include "controller/nginx/routing_table.h"

#include <gtest/gtest.h>

namespace captain::nginx {
namespace {

using Json = nlohmann::json;

const Json kServices = Json::parse(R"([
  {"ID": "s-web", "Spec": {"Name": "srv-captain--web", "Labels": {"captain.app": "web"}}},
  {"ID": "s-api", "Spec": {"Name": "srv-captain--api", "Labels": {"captain.app": "api"}}},
  {"ID": "s-nolabel", "Spec": {"Name": "other"}}
])");

Json task(const std::string& service, const std::string& state, const std::string& desired,
          Json ports = Json::array()) {
  return {{"ServiceID", service},
          {"DesiredState", desired},
          {"Status", {{"State", state}, {"PortStatus", {{"Ports", std::move(ports)}}}}}};
}

Json host_port(int target, int published, const char* mode = "host") {
  return {{"Protocol", "tcp"},
          {"TargetPort", target},
          {"PublishedPort", published},
          {"PublishMode", mode}};
}

TEST(RoutingTable, AnAppIsRoutableOnlyWithARunningTask) {
  const Json tasks =
      Json::array({task("s-web", "running", "running"), task("s-api", "starting", "running"),
                   task("s-api", "running", "shutdown"), task("s-nolabel", "running", "running")});
  const RoutingTable table = routing_from_swarm(kServices, tasks, {});
  EXPECT_EQ(table.routable_apps, std::set<std::string>{"web"});
  EXPECT_TRUE(table.published_ports.empty());
}

TEST(RoutingTable, PublishedPortsOfEveryRunningTaskOnTheHttpPort) {
  const Json tasks = Json::array(
      {task("s-web", "running", "running",
            Json::array({host_port(80, 30001), host_port(22, 30002)})),
       task("s-web", "running", "running", Json::array({host_port(80, 30000)})),
       task("s-web", "running", "running", Json::array({host_port(80, 30000)})),
       task("s-web", "preparing", "running", Json::array({host_port(80, 30009)})),
       task("s-api", "running", "running", Json::array({host_port(8080, 31000, "ingress")}))});
  const RoutingTable table = routing_from_swarm(kServices, tasks, {{"web", 80}, {"api", 8080}});
  EXPECT_EQ(table.routable_apps, (std::set<std::string>{"api", "web"}));
  ASSERT_EQ(table.published_ports.count("web"), 1u);
  EXPECT_EQ(table.published_ports.at("web"), (std::vector<std::uint16_t>{30000, 30001}));
  EXPECT_EQ(table.published_ports.count("api"), 0u);  // ingress: not a task's own port
}

TEST(RoutingTable, MalformedInputIsSkipped) {
  EXPECT_EQ(routing_from_swarm(Json(), Json::object(), {}), RoutingTable{});
  Json services = kServices;
  services.push_back(Json(2));
  services.push_back({{"ID", 7}, {"Spec", {{"Labels", {{"captain.app", 3}}}}}});
  const Json tasks = Json::array(
      {Json(1), Json::object(),
       task("s-web", "running", "running", Json::array({Json("x"), host_port(80, 70000)}))});
  const RoutingTable table = routing_from_swarm(services, tasks, {{"web", 80}});
  EXPECT_EQ(table.routable_apps, std::set<std::string>{"web"});
  EXPECT_TRUE(table.published_ports.empty());
}

}  // namespace
}  // namespace captain::nginx
