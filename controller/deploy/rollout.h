// Where a Swarm rollout of one app version stands, judged from the service and its tasks as
// the Docker Engine API reports them (GET /services/<id>, GET /tasks?filters=service).
// Pure: the deployer polls and calls this until the phase is no longer in_progress.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace captain::deploy {

enum class RolloutPhase {
  in_progress,  // tasks still starting, or Swarm still updating/monitoring
  converged,    // the wanted number of tasks run this version (healthy, where checked) and no
                // task of another version runs
  rolled_back,  // Swarm gave up on this version and restored the previous spec
  failed,       // neither: update paused, or a first deploy whose tasks keep failing
};

struct RolloutAssessment {
  RolloutPhase phase = RolloutPhase::in_progress;
  int running = 0;     // tasks of this version running
  int desired = 0;     // replicas asked for
  int failed = 0;      // tasks of this version that failed or were rejected
  std::string detail;  // for the build log: Swarm's message and the last task error
  // Swarm's own update monitor watched the new tasks (UpdateStatus "completed"). A newly
  // created service has no such watch: the caller must see it converged for a while before
  // believing it (a task that crashes after a second was "running" for that second).
  bool monitored = false;
};

// A first deploy has no previous spec to roll back to: after `failed_task_limit` failed tasks
// of this version it is reported failed instead of retried forever.
RolloutAssessment assess_rollout(const nlohmann::json& service, const nlohmann::json& tasks,
                                 int version, int failed_task_limit = 3);

const char* to_string(RolloutPhase phase);

}  // namespace captain::deploy
