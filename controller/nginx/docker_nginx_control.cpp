#include "controller/nginx/docker_nginx_control.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

namespace captain::nginx {
namespace {

using Json = nlohmann::json;
constexpr std::chrono::seconds kTestTimeout{30};
constexpr std::chrono::seconds kReloadTimeout{10};
// Lists nginx's workers: the children of PID 1 (the master) with their titles.
const std::vector<std::string> kWorkerProbe{
    "sh", "-c",
    "for p in $(cat /proc/1/task/1/children); do printf '%s ' \"$p\"; "
    "tr '\\0' ' ' < /proc/$p/cmdline; echo; done"};

std::string text_at(const Json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Unexpected<PipelineError> docker_failure(const std::string& what, const swarm::DockerError& e) {
  return Unexpected(PipelineError{PipelineError::Kind::reload_failed, what + ": " + e.message});
}

}  // namespace

std::vector<std::string> worker_pids(const std::string& probe_output) {
  std::vector<std::string> pids;
  std::istringstream lines(probe_output);
  for (std::string line; std::getline(lines, line);) {
    const std::string pid = line.substr(0, line.find(' '));
    if (!pid.empty() && std::all_of(pid.begin(), pid.end(), ::isdigit)) pids.push_back(pid);
  }
  return pids;
}

bool reload_settled(const std::vector<std::string>& before_pids, const std::string& probe_output) {
  bool started = false;
  std::istringstream lines(probe_output);
  for (std::string line; std::getline(lines, line);) {
    const std::string pid = line.substr(0, line.find(' '));
    if (pid.empty()) continue;
    const bool old = std::find(before_pids.begin(), before_pids.end(), pid) != before_pids.end();
    if (!old) started = true;
    if (old && line.find("shutting down") == std::string::npos) return false;
  }
  return started;
}

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
    std::vector<std::vector<std::string>> before;
    for (const std::string& id : *running) {
      auto probe = docker.exec(id, kWorkerProbe, kTestTimeout);
      before.push_back(probe ? worker_pids(probe->output) : std::vector<std::string>{});
      auto sent = docker.signal_container(id, "HUP", swarm::Urgency::interactive);
      if (!sent) return docker_failure("cannot signal " + service + " container", sent.error());
    }
    // Done once every container runs new workers. A probe that cannot run (an image without
    // sh) is not waited for: the HUP was delivered.
    const auto deadline = std::chrono::steady_clock::now() + kReloadTimeout;
    for (std::size_t i = 0; i < running->size(); ++i) {
      if (before[i].empty()) continue;
      while (true) {
        auto probe = docker.exec((*running)[i], kWorkerProbe, kTestTimeout);
        if (!probe || reload_settled(before[i], probe->output)) break;
        if (std::chrono::steady_clock::now() >= deadline) {
          return Unexpected(PipelineError{PipelineError::Kind::reload_failed,
                                          service + " did not start new workers within " +
                                              std::to_string(kReloadTimeout.count()) +
                                              " s after SIGHUP"});
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    return !running->empty();
  };
  return control;
}

}  // namespace captain::nginx
