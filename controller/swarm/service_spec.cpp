// controller/swarm/service_spec: app definition -> Docker Engine API v1.41 ServiceSpec JSON.
#include "controller/swarm/service_spec.h"

#include <string>
#include <utility>

namespace captain::swarm {
namespace {

using nlohmann::json;

json labels(const apps::AppDefinition& app, int version) {
  return json{
      {kManagedLabel, "true"}, {kAppLabel, app.app_name}, {kVersionLabel, std::to_string(version)}};
}

json mounts(const apps::AppDefinition& app) {
  json out = json::array();
  for (const apps::Volume& v : app.volumes) {
    if (v.host_path) {
      out.push_back({{"Type", "bind"},
                     {"Source", *v.host_path},
                     {"Target", v.container_path},
                     {"ReadOnly", false}});
    } else {
      out.push_back({{"Type", "volume"},
                     {"Source", volume_name(v.volume_name.value_or(""))},
                     {"Target", v.container_path},
                     {"ReadOnly", false}});
    }
  }
  return out;
}

json container_spec(const apps::AppDefinition& app, const ServiceSpecInputs& in) {
  json env = json::array();
  for (const apps::EnvVar& e : app.env_vars) env.push_back(e.key + "=" + e.value);
  json spec{{"Image", in.image},
            {"Labels", labels(app, in.version)},
            {"Env", std::move(env)},
            {"Mounts", mounts(app)}};
  if (in.healthcheck) {
    const Healthcheck& h = *in.healthcheck;
    spec["HealthCheck"] = {{"Test", h.test},
                           {"Interval", h.interval_ns},
                           {"Timeout", h.timeout_ns},
                           {"StartPeriod", h.start_period_ns},
                           {"Retries", h.retries}};
  }
  return spec;
}

json task_template(const apps::AppDefinition& app, const ServiceSpecInputs& in) {
  json task{
      {"ContainerSpec", container_spec(app, in)},
      {"RestartPolicy", {{"Condition", "any"}, {"Delay", kRestartDelayNanos}, {"MaxAttempts", 0}}},
      {"Networks", json::array({{{"Target", in.network},
                                 {"Aliases", json::array({service_name(app.app_name)})}}})}};
  if (in.resources) {
    json limits = json::object();
    if (in.resources->nano_cpus) limits["NanoCPUs"] = *in.resources->nano_cpus;
    if (in.resources->memory_bytes) limits["MemoryBytes"] = *in.resources->memory_bytes;
    if (!limits.empty()) task["Resources"] = {{"Limits", std::move(limits)}};
  }
  return task;
}

json endpoint_spec(const apps::AppDefinition& app, bool publish_http_port) {
  json ports = json::array();
  for (const apps::PortMapping& p : app.ports) {
    ports.push_back({{"Protocol", "tcp"},
                     {"TargetPort", p.container_port},
                     {"PublishedPort", p.host_port},
                     {"PublishMode", "ingress"}});
  }
  if (publish_http_port && !app.not_expose_as_web_app) {
    // No PublishedPort: Docker picks a free one per task. (Docker drops a zero from the stored
    // spec, so sending 0 would read back as drift on every reconcile.)
    ports.push_back(
        {{"Protocol", "tcp"}, {"TargetPort", app.container_http_port}, {"PublishMode", "host"}});
  }
  return {{"Mode", "vip"}, {"Ports", std::move(ports)}};
}

}  // namespace

std::string service_name(std::string_view app) {
  std::string out(kServiceNamePrefix);
  out += app;
  return out;
}

std::string volume_name(std::string_view volume) {
  std::string out(kVolumeNamePrefix);
  out += volume;
  return out;
}

json build_service_spec(const apps::AppDefinition& app, const ServiceSpecInputs& in) {
  const char* order = app.volumes.empty() ? "start-first" : "stop-first";
  return json{
      {"Name", service_name(app.app_name)},
      {"Labels", labels(app, in.version)},
      {"TaskTemplate", task_template(app, in)},
      {"Mode", {{"Replicated", {{"Replicas", app.instance_count}}}}},
      {"UpdateConfig",
       {{"Parallelism", 1},
        {"Order", order},
        {"FailureAction", "rollback"},
        {"Monitor", in.update_monitor_ns},
        {"MaxFailureRatio", 0.0}}},
      {"RollbackConfig", {{"Parallelism", 1}, {"Order", order}, {"FailureAction", "pause"}}},
      {"EndpointSpec", endpoint_spec(app, in.publish_http_port)},
  };
}

}  // namespace captain::swarm
