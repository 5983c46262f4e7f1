// Makes Swarm run what the store says, and watches it happen.
//
//   API (deploy, update, delete) ──converge(app)──▶ WorkQueue ──▶ workers: store → spec → Swarm
//                                                                  │ a version rolling out
//                                                                  ▼
//                                  RolloutTracker: polls service + tasks until converged, rolled
//                                  back, failed or timed out; records the outcome (store, build
//                                  log, audit) and wakes a waiting API call
//   monitor: pings Docker; on (re)connect checks Swarm and the overlay network and reconciles
//   every app; reconciles again every reconcile_interval and reports orphan services.
//
// Every step reads the latest store state, so a job repeated after a crash or a restart does
// the same thing again (idempotent), and jobs for one app are coalesced and never concurrent.
//
// Spans (trace/tracer.h): a pass queued by a request is a "deploy converge" span under that
// request's span (carried in its RequestContext), with "deploy pull", "deploy service create"
// or "deploy service update" and the Docker calls beneath it, and a "deploy rollout" span that
// lasts until the tracker records the outcome.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/request_context.h"
#include "controller/audit/audit_trail.h"
#include "controller/deploy/build_log.h"
#include "controller/deploy/desired_state.h"
#include "controller/deploy/rollout.h"
#include "controller/deploy/rollout_tracker.h"
#include "controller/deploy/work_queue.h"
#include "controller/log/json_log.h"
#include "controller/store/sqlite.h"
#include "controller/swarm/docker_client.h"
#include "controller/trace/tracer.h"

namespace captain::deploy {

struct DeployerOptions {
  std::chrono::seconds deploy_timeout{600};
  std::chrono::seconds update_monitor{15};
  std::chrono::seconds reconcile_interval{60};
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds ping_interval{2000};
  int workers = 4;
  bool publish_http_port = false;  // ServiceSpecInputs::publish_http_port
};

class Deployer {
 public:
  Deployer(swarm::DockerClient& docker, store::Database& db, BuildLogs& builds,
           audit::AuditTrail& audit, logging::JsonLog& log, DeployerOptions options);
  ~Deployer();  // stops and joins the threads

  Deployer(const Deployer&) = delete;
  Deployer& operator=(const Deployer&) = delete;

  void start();
  void stop();

  // Called after any change that can alter what Swarm runs (store committed first).
  void converge(const std::string& app, const api::RequestContext& context);
  // Blocks until the rollout of `version` ends or `timeout` passes.
  DeployOutcome wait_for(const std::string& app, std::int64_t version,
                         std::chrono::milliseconds timeout);

  // "ok", or why Docker cannot be used now (for /health/ready).
  std::string docker_state() const;
  // Checks Docker now, through the breakers (an API call about to need Docker): "" if usable,
  // else a message for the client.
  std::string check_docker();
  // Services labeled as ours whose app is not in the store (reported, never removed).
  std::vector<std::string> orphans() const;
  // Whether a rollout is being tracked now (routing follows tasks closely meanwhile).
  bool rolling_out() const;
  // The span of a rollout being tracked (empty when none, or it is not traced): nginx changes
  // its polls notice meanwhile are most likely that rollout's tasks becoming routable.
  tracing::Parent rollout_trace() const;

  // After each recorded outcome (the app list shows isAppBuilding and deployedVersion).
  void on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

 private:
  void monitor_loop();
  void worker_loop();

  void connect();  // Swarm check, network, reconcile
  void reconcile_all();
  // One pass over an app.
  ConvergeResult converge_now(const std::string& app, const api::RequestContext& context);
  ConvergeResult remove_now(const DesiredState& state, const api::RequestContext& context);
  std::optional<std::string> network_id();

  swarm::DockerClient& docker_;
  store::Database& db_;
  BuildLogs& builds_;
  audit::AuditTrail& audit_;
  logging::JsonLog& log_;
  const DeployerOptions options_;
  std::function<void()> on_change_;

  WorkQueue work_;
  RolloutTracker tracker_;

  mutable std::mutex mutex_;
  std::condition_variable wake_monitor_;
  bool stopping_ = false;
  std::string docker_state_ = "connecting";
  bool connected_ = false;
  std::string network_id_;
  std::vector<std::string> orphans_;
  // Set when a reconcile pass queued every app; the last worker to go idle logs its duration.
  std::optional<std::chrono::steady_clock::time_point> reconcile_started_;
  std::size_t reconcile_apps_ = 0;

  std::vector<std::thread> threads_;
};

}  // namespace captain::deploy
