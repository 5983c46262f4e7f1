// Follows each version being rolled out until Swarm has converged on it, rolled it back or
// failed it (or deploy_timeout passes): polls the service and its tasks (assess_rollout), tells
// the build log what Swarm is doing, and records the outcome in the store (version status,
// deployedVersion, the audit log), where a waiting API call hears it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/request_context.h"
#include "controller/audit/audit_trail.h"
#include "controller/deploy/build_log.h"
#include "controller/deploy/rollout.h"
#include "controller/log/json_log.h"
#include "controller/store/sqlite.h"
#include "controller/swarm/docker_client.h"
#include "controller/trace/tracer.h"

namespace captain::deploy {

struct DeployOutcome {
  RolloutPhase phase = RolloutPhase::in_progress;  // in_progress: timed out waiting
  std::string detail;
};

struct TrackedRollout {
  std::string app;
  std::int64_t version = 0;
  std::string image;
  std::chrono::steady_clock::time_point deadline;
  api::RequestContext context;
  tracing::Parent span;  // the rollout's "deploy rollout" span (set by track()); empty: none
  std::string last_detail;
  // When an unmonitored rollout (a created service) was first seen converged.
  std::optional<std::chrono::steady_clock::time_point> converged_since;
  // Failed tasks of this version when that watch began: one more restarts the watch (a
  // crash-looping task can look "running" at every poll).
  int failed_when_converged = 0;
};

struct RolloutTrackerOptions {
  std::chrono::seconds deploy_timeout{600};
  std::chrono::seconds update_monitor{15};
  std::chrono::milliseconds poll_interval{500};
};

class RolloutTracker {
 public:
  // After each recorded outcome, with the rollout it ended.
  using OutcomeListener = std::function<void(const TrackedRollout&, RolloutPhase)>;

  RolloutTracker(swarm::DockerClient& docker, store::Database& db, BuildLogs& builds,
                 audit::AuditTrail& audit, logging::JsonLog& log, RolloutTrackerOptions options);
  ~RolloutTracker();

  RolloutTracker(const RolloutTracker&) = delete;
  RolloutTracker& operator=(const RolloutTracker&) = delete;

  void start(OutcomeListener listener);
  void stop();

  // Follows `rollout` from now on (once per app and version), in a "deploy rollout" span under
  // `parent` (ended with the outcome; the polls' Docker calls are its children).
  void track(TrackedRollout rollout, const tracing::Parent& parent = {});
  // Records an outcome decided elsewhere (Docker refused to create or update the service).
  void finish(const TrackedRollout& rollout, RolloutPhase phase, const std::string& detail);
  // Blocks until the rollout of `version` ends or `timeout` passes.
  DeployOutcome wait_for(const std::string& app, std::int64_t version,
                         std::chrono::milliseconds timeout);
  bool active() const;  // a rollout is being followed
  // The span of one rollout being followed; empty when none is traced.
  tracing::Parent any_span() const;

  // A line in the app's build log, the JSON log and the version's stored log.
  void say(const std::string& app, std::int64_t version, const std::string& line);

 private:
  void loop();
  void poll(const TrackedRollout& rollout);
  template <class F>
  void update(const TrackedRollout& rollout, F&& change);

  swarm::DockerClient& docker_;
  store::Database& db_;
  BuildLogs& builds_;
  audit::AuditTrail& audit_;
  logging::JsonLog& log_;
  const RolloutTrackerOptions options_;
  OutcomeListener listener_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable outcomes_changed_;
  bool stopping_ = false;
  std::vector<TrackedRollout> rollouts_;
  std::map<std::pair<std::string, std::int64_t>, tracing::Span> spans_;  // by app and version
  std::map<std::pair<std::string, std::int64_t>, DeployOutcome> outcomes_;
  std::thread thread_;
};

}  // namespace captain::deploy
