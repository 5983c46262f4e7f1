// NginxControl for nginx running as the captain-nginx Swarm service (the production topology):
// a tree is validated by `nginx -t` exec'd inside a running task container (the same nginx
// binary and module that will load it, the generated-config volume mounted at the same path),
// and put live by sending HUP to every running task container through the Docker API.
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

// While no task runs and no tree is live yet, the first tree is put in place untested so the
// container (which waits for `current/nginx.conf`) can start; later trees wait for a task.
NginxControl docker_nginx_control(swarm::DockerClient& docker, std::string service,
                                  std::filesystem::path conf_dir, logging::JsonLog& log);

}  // namespace captain::nginx
