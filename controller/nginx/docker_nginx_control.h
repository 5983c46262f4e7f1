// NginxControl for nginx running as the captain-nginx Swarm service (the production topology):
// a tree is validated by `nginx -t` exec'd inside a running task container (the same nginx
// binary and module that will load it, the generated-config volume mounted at the same path),
// and put live by sending HUP to every running task container through the Docker API, done once
// each of them runs new workers (so a client's next connection gets the new tree: the CLI goes
// to https://captain.<root> right after enablessl).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controller/log/json_log.h"
#include "controller/nginx/config_pipeline.h"
#include "controller/swarm/docker_client.h"

namespace captain::nginx {

// Container IDs of the tasks in GET /tasks?filters={"service":[...]} that run now.
std::vector<std::string> running_task_containers(const nlohmann::json& tasks);

// nginx's workers in a container, as the probe exec'd there prints them: one line per child of
// PID 1 (nginx's master), "<pid> <its command line>". Whether a reload took: a worker the master
// did not have before runs, and every old one is gone or "shutting down" (no longer accepting).
bool reload_settled(const std::vector<std::string>& before_pids, const std::string& probe_output);
std::vector<std::string> worker_pids(const std::string& probe_output);

// While no task runs and no tree is live yet, the first tree is put in place untested so the
// container (which waits for `current/nginx.conf`) can start; later trees wait for a task.
NginxControl docker_nginx_control(swarm::DockerClient& docker, std::string service,
                                  std::filesystem::path conf_dir, logging::JsonLog& log);

}  // namespace captain::nginx
