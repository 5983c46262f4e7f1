#include "controller/nginx/docker_nginx_control.h"

#include <chrono>

namespace captain::nginx {
namespace {

using Json = nlohmann::json;
constexpr std::chrono::seconds kTestTimeout{30};

std::string text_at(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Unexpected<PipelineError> docker_failure(const std::string& what, const swarm::DockerError& e) {
  return Unexpected(PipelineError{PipelineError::Kind::reload_failed, what + ": " + e.message});
}

}  // namespace

std::vector<std::string> running_task_containers(const Json& tasks) {
  std::vector<std::string> out;
  if (!tasks.is_array()) return out;
  for (const Json& task : tasks) {
    if (!task.is_object() || text_at(task, "DesiredState") != "running") continue;
    auto status = task.find("Status");
    if (status == task.end() || text_at(*status, "State") != "running") continue;
    auto container = status->find("ContainerStatus");
    if (container == status->end()) continue;
    std::string id = text_at(*container, "ContainerID");
    if (!id.empty()) out.push_back(std::move(id));
  }
  return out;
}

NginxControl docker_nginx_control(swarm::DockerClient& docker, std::string service,
                                  std::filesystem::path conf_dir, logging::JsonLog& log) {
  auto containers = [&docker, service]() -> Expected<std::vector<std::string>, PipelineError> {
    auto tasks = docker.list_tasks(service, swarm::Urgency::interactive);
    if (!tasks) return docker_failure("cannot list the tasks of " + service, tasks.error());
    return running_task_containers(*tasks);
  };
  NginxControl control;
  control.test = [&docker, &log, service, conf_dir,
                  containers](const std::filesystem::path& conf) -> Expected<void, PipelineError> {
    auto running = containers();
    if (!running) return Unexpected(running.error());
    if (running->empty()) {
      std::error_code ec;
      if (!std::filesystem::exists(conf_dir / "current", ec)) {
        log.warn("no nginx task runs yet: the first configuration is put in place untested",
                 {{"service", service}});
        return {};
      }
      return Unexpected(
          PipelineError{PipelineError::Kind::reload_failed,
                        "no running " + service + " task to validate the configuration with"});
    }
    auto ran =
        docker.exec(running->front(), {"nginx", "-t", "-q", "-c", conf.string()}, kTestTimeout);
    if (!ran) return docker_failure("cannot run nginx -t in " + service, ran.error());
    if (ran->exit_code == 0) return {};
    std::string message = ran->output;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    if (message.empty()) message = "nginx -t failed with status " + std::to_string(ran->exit_code);
    return Unexpected(PipelineError{PipelineError::Kind::invalid_config, message});
  };
  control.reload = [&docker, service, containers]() -> Expected<bool, PipelineError> {
    auto running = containers();
    if (!running) return Unexpected(running.error());
    for (const std::string& id : *running) {
      auto sent = docker.signal_container(id, "HUP", swarm::Urgency::interactive);
      if (!sent) return docker_failure("cannot signal " + service + " container", sent.error());
    }
    return !running->empty();
  };
  return control;
}

}  // namespace captain::nginx
