#include "controller/deploy/rollout.h"

#include "controller/swarm/service_spec.h"

namespace captain::deploy {
namespace {

using Json = nlohmann::json;

// The captain.version label of a spec (service spec or a task's container spec), -1 if none.
int version_label(const Json& labels) {
  if (!labels.is_object()) return -1;
  const auto it = labels.find(swarm::kVersionLabel);
  if (it == labels.end() || !it->is_string()) return -1;
  try {
    return std::stoi(it->get<std::string>());
  } catch (const std::exception&) {
    return -1;
  }
}

const Json& at(const Json& j, std::initializer_list<const char*> path) {
  static const Json kNull;
  const Json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object()) return kNull;
    const auto it = cur->find(key);
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

std::string text(const Json& j) {
  return j.is_string() ? j.get<std::string>() : "";
}

std::string with(std::string message, const std::string& task_error) {
  if (task_error.empty()) return message;
  return message + (message.empty() ? "" : "; ") + "last task error: " + task_error;
}

}  // namespace

RolloutAssessment assess_rollout(const Json& service, const Json& tasks, int version,
                                 int failed_task_limit) {
  RolloutAssessment out;
  const Json& replicas = at(service, {"Spec", "Mode", "Replicated", "Replicas"});
  out.desired = replicas.is_number_integer() ? replicas.get<int>() : 1;

  int other_running = 0;
  int failed = 0;
  std::string task_error;
  std::string newest_failure_time;
  if (tasks.is_array()) {
    for (const Json& task : tasks) {
      const int task_version = version_label(at(task, {"Spec", "ContainerSpec", "Labels"}));
      const std::string state = text(at(task, {"Status", "State"}));
      const bool wanted = text(at(task, {"DesiredState"})) == "running";
      if (task_version == version) {
        if (wanted && state == "running") ++out.running;
        if (state == "failed" || state == "rejected") {
          ++failed;
          const std::string when = text(at(task, {"Status", "Timestamp"}));
          if (when >= newest_failure_time) {
            newest_failure_time = when;
            task_error = text(at(task, {"Status", "Err"}));
            if (task_error.empty()) task_error = text(at(task, {"Status", "Message"}));
          }
        }
      } else if (wanted && state == "running") {
        // An old task Swarm still wants. One told to shut down is draining: it no longer
        // counts (busybox httpd as PID 1, for one, ignores SIGTERM for the whole grace period).
        ++other_running;
      }
    }
  }

  const std::string update_state = text(at(service, {"UpdateStatus", "State"}));
  const std::string update_message = text(at(service, {"UpdateStatus", "Message"}));
  if (update_state == "rollback_completed") {
    out.phase = RolloutPhase::rolled_back;
    out.detail = with(update_message, task_error);
    return out;
  }
  if (update_state == "paused" || update_state == "rollback_paused") {
    out.phase = RolloutPhase::failed;
    out.detail = with("update " + update_state + ": " + update_message, task_error);
    return out;
  }
  if (update_state == "rollback_started") {
    out.detail = with("rolling back: " + update_message, task_error);
    return out;
  }
  const int spec_version = version_label(at(service, {"Spec", "Labels"}));
  if (spec_version != version) {
    out.phase = RolloutPhase::failed;
    out.detail = "the service now runs version " + std::to_string(spec_version) +
                 " (changed outside this deploy)";
    return out;
  }
  out.failed = failed;
  if (update_state == "updating") {
    out.detail = std::to_string(out.running) + "/" + std::to_string(out.desired) +
                 " tasks running; Swarm is updating";
    return out;
  }
  if (out.running >= out.desired && other_running == 0) {
    out.phase = RolloutPhase::converged;
    out.monitored = update_state == "completed";
    out.detail = std::to_string(out.running) + "/" + std::to_string(out.desired) + " tasks running";
    return out;
  }
  if (update_state.empty() && failed >= failed_task_limit) {
    out.phase = RolloutPhase::failed;
    out.detail =
        with(std::to_string(failed) + " tasks of version " + std::to_string(version) + " failed",
             task_error);
    return out;
  }
  out.detail =
      with(std::to_string(out.running) + "/" + std::to_string(out.desired) + " tasks running",
           task_error);
  return out;
}

const char* to_string(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::in_progress:
      return "in_progress";
    case RolloutPhase::converged:
      return "converged";
    case RolloutPhase::rolled_back:
      return "rolled_back";
    case RolloutPhase::failed:
      return "failed";
  }
  return "in_progress";
}

}  // namespace captain::deploy
