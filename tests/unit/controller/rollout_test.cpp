// controller/deploy/rollout: a Swarm rollout judged from GET /services/<id> and GET /tasks, in
// the shapes Docker Engine API v1.41 reports them.
#include "controller/deploy/rollout.h"

#include <gtest/gtest.h>

#include <string>

namespace captain::deploy {
namespace {

using nlohmann::json;

// GET /services/<id> for a replicated service whose spec carries captain.version `version`.
// `update_state` empty: no UpdateStatus (a freshly created service).
json service(int version, int replicas, const std::string& update_state = "",
             const std::string& update_message = "") {
  json s = {
      {"ID", "9mnpnzenvg8p8tdbtq4wvbkcz"},
      {"Version", {{"Index", 19}}},
      {"Spec",
       {{"Name", "srv-captain--web"},
        {"Labels",
         {{"captain.version", std::to_string(version)}, {"com.caprover.managed", "true"}}},
        {"TaskTemplate",
         {{"ContainerSpec",
           {{"Image", "nginx:1.25"}, {"Labels", {{"captain.version", std::to_string(version)}}}}},
          {"ForceUpdate", 0}}},
        {"Mode", {{"Replicated", {{"Replicas", replicas}}}}}}},
  };
  if (!update_state.empty()) {
    s["UpdateStatus"] = {{"State", update_state},
                         {"StartedAt", "2026-11-22T10:24:30.000000000Z"},
                         {"Message", update_message}};
  }
  return s;
}

// One element of GET /tasks.
json task(int version, const std::string& state, const std::string& desired_state,
          const std::string& timestamp = "2026-11-22T10:24:38.223854075Z",
          const std::string& err = "") {
  json status = {{"Timestamp", timestamp},
                 {"State", state},
                 {"Message", state == "running" ? "started" : state},
                 {"ContainerStatus",
                  {{"ContainerID", "a6b0c1d2e3f4"}, {"PID", state == "running" ? 4242 : 0}}},
                 {"PortStatus", json::object()}};
  if (!err.empty()) {
    status["Err"] = err;
    status["Message"] = "started";
    status["ContainerStatus"]["ExitCode"] = 1;
  }
  return {{"ID", "task-" + std::to_string(version) + "-" + state + "-" + timestamp},
          {"ServiceID", "9mnpnzenvg8p8tdbtq4wvbkcz"},
          {"Spec",
           {{"ContainerSpec",
             {{"Image", "nginx:1.25"}, {"Labels", {{"captain.version", std::to_string(version)}}}}},
            {"ForceUpdate", 0}}},
          {"Slot", 1},
          {"Status", status},
          {"DesiredState", desired_state}};
}

json failed_task(int version, const std::string& timestamp, const std::string& err) {
  return task(version, "failed", "shutdown", timestamp, err);
}

TEST(Rollout, FreshCreateConvergesUnmonitored) {
  const json tasks = json::array({task(0, "running", "running"), task(0, "running", "running")});
  const auto a = assess_rollout(service(0, 2), tasks, 0);
  EXPECT_EQ(a.phase, RolloutPhase::converged);
  EXPECT_FALSE(a.monitored);
  EXPECT_EQ(a.running, 2);
  EXPECT_EQ(a.desired, 2);
  EXPECT_EQ(a.detail, "2/2 tasks running");
}

TEST(Rollout, FreshCreateStillStartingIsInProgress) {
  const json tasks = json::array({task(0, "running", "running"), task(0, "starting", "running"),
                                  task(0, "preparing", "running")});
  const auto a = assess_rollout(service(0, 3), tasks, 0);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_EQ(a.running, 1);
  EXPECT_EQ(a.desired, 3);
  EXPECT_EQ(a.detail, "1/3 tasks running");
}

TEST(Rollout, UpdatingStaysInProgressEvenWhenCountsMatch) {
  const json tasks = json::array({task(4, "running", "running")});
  const auto a = assess_rollout(service(4, 1, "updating", "update in progress"), tasks, 4);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_EQ(a.running, 1);
  EXPECT_FALSE(a.monitored);
  EXPECT_NE(a.detail.find("Swarm is updating"), std::string::npos) << a.detail;
}

TEST(Rollout, CompletedUpdateWithNewTasksRunningIsMonitoredConvergence) {
  const json tasks = json::array({
      task(4, "running", "running"),
      task(4, "running", "running"),
      task(3, "shutdown", "shutdown"),
      task(3, "shutdown", "shutdown"),
  });
  const auto a = assess_rollout(service(4, 2, "completed", "update completed"), tasks, 4);
  EXPECT_EQ(a.phase, RolloutPhase::converged);
  EXPECT_TRUE(a.monitored);
  EXPECT_EQ(a.running, 2);
}

TEST(Rollout, CompletedButTooFewNewTasksIsInProgress) {
  const json tasks = json::array({task(4, "running", "running"), task(4, "starting", "running")});
  const auto a = assess_rollout(service(4, 2, "completed", "update completed"), tasks, 4);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_FALSE(a.monitored);
}

TEST(Rollout, OldTaskStillWantedBlocksConvergence) {
  const json tasks = json::array({task(5, "running", "running"), task(4, "running", "running")});
  const auto a = assess_rollout(service(5, 1), tasks, 5);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_EQ(a.running, 1);
}

TEST(Rollout, DrainingOldTaskDoesNotBlockConvergence) {
  // Swarm told the old task to shut down; it still reports running during its grace period.
  const json tasks = json::array({task(5, "running", "running"), task(4, "running", "shutdown")});
  const auto a = assess_rollout(service(5, 1), tasks, 5);
  EXPECT_EQ(a.phase, RolloutPhase::converged);
  EXPECT_EQ(a.running, 1);
}

TEST(Rollout, NewVersionTaskToldToShutDownDoesNotCountAsRunning) {
  const json tasks = json::array({task(5, "running", "shutdown")});
  const auto a = assess_rollout(service(5, 1), tasks, 5);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_EQ(a.running, 0);
}

TEST(Rollout, RollbackCompletedIsRolledBackWithNewestTaskError) {
  const json tasks = json::array({
      failed_task(7, "2026-11-22T10:24:31.100000000Z", "task: non-zero exit (2)"),
      failed_task(7, "2026-11-22T10:24:38.223854075Z", "task: non-zero exit (1)"),
      failed_task(7, "2026-11-22T10:24:35.000000001Z", "task: non-zero exit (3)"),
      task(6, "running", "running"),
  });
  // After a rollback the service spec carries the previous version's label again.
  const auto a =
      assess_rollout(service(6, 1, "rollback_completed", "rollback completed"), tasks, 7);
  EXPECT_EQ(a.phase, RolloutPhase::rolled_back);
  EXPECT_EQ(a.detail, "rollback completed; last task error: task: non-zero exit (1)");
  EXPECT_EQ(a.running, 0);
}

TEST(Rollout, RollbackCompletedWithoutTaskErrorKeepsSwarmMessage) {
  const auto a = assess_rollout(service(6, 1, "rollback_completed", "rollback completed"),
                                json::array({task(6, "running", "running")}), 7);
  EXPECT_EQ(a.phase, RolloutPhase::rolled_back);
  EXPECT_EQ(a.detail, "rollback completed");
}

TEST(Rollout, TaskErrorFallsBackToStatusMessage) {
  json rejected = task(7, "rejected", "shutdown", "2026-11-22T10:24:38.2Z");
  rejected["Status"]["Message"] = "No such image: nope:1";
  const auto a = assess_rollout(service(6, 1, "rollback_completed", "rollback completed"),
                                json::array({rejected}), 7);
  EXPECT_EQ(a.phase, RolloutPhase::rolled_back);
  EXPECT_EQ(a.detail, "rollback completed; last task error: No such image: nope:1");
}

TEST(Rollout, PausedUpdateFails) {
  const json tasks =
      json::array({failed_task(7, "2026-11-22T10:24:38.223854075Z", "task: non-zero exit (1)")});
  const auto a = assess_rollout(
      service(7, 1, "paused", "update paused due to failure or early termination of task x"), tasks,
      7);
  EXPECT_EQ(a.phase, RolloutPhase::failed);
  EXPECT_EQ(a.detail,
            "update paused: update paused due to failure or early termination of task x; last "
            "task error: task: non-zero exit (1)");
}

TEST(Rollout, RollbackPausedFails) {
  const auto a =
      assess_rollout(service(6, 1, "rollback_paused", "rollback paused"), json::array(), 7);
  EXPECT_EQ(a.phase, RolloutPhase::failed);
  EXPECT_EQ(a.detail, "update rollback_paused: rollback paused");
}

TEST(Rollout, PausedFailsEvenWhenTasksRun) {
  const json tasks = json::array({task(7, "running", "running")});
  const auto a = assess_rollout(service(7, 1, "paused", "paused"), tasks, 7);
  EXPECT_EQ(a.phase, RolloutPhase::failed);
}

TEST(Rollout, RollbackStartedIsInProgressRollingBack) {
  const json tasks = json::array({task(6, "running", "running")});
  const auto a = assess_rollout(
      service(6, 1, "rollback_started", "update rolled back due to failure"), tasks, 7);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_EQ(a.detail.rfind("rolling back", 0), 0u) << a.detail;
  EXPECT_NE(a.detail.find("update rolled back due to failure"), std::string::npos);
}

TEST(Rollout, SpecOfAnotherVersionFails) {
  const json tasks = json::array({task(9, "running", "running")});
  const auto a = assess_rollout(service(9, 1), tasks, 8);
  EXPECT_EQ(a.phase, RolloutPhase::failed);
  EXPECT_NE(a.detail.find("version 9"), std::string::npos) << a.detail;
}

TEST(Rollout, SpecWithoutVersionLabelFails) {
  json s = service(8, 1);
  s["Spec"]["Labels"].erase("captain.version");
  const auto a = assess_rollout(s, json::array({task(8, "running", "running")}), 8);
  EXPECT_EQ(a.phase, RolloutPhase::failed);
}

TEST(Rollout, FirstDeployFailsAfterFailedTaskLimit) {
  const json tasks = json::array({
      failed_task(0, "2026-11-22T10:24:30.000000001Z", "task: non-zero exit (2)"),
      failed_task(0, "2026-11-22T10:24:38.223854075Z", "task: non-zero exit (1)"),
      failed_task(0, "2026-11-22T10:24:34.000000001Z", "task: non-zero exit (3)"),
      task(0, "starting", "running", "2026-11-22T10:24:39.000000001Z"),
  });
  const auto a = assess_rollout(service(0, 1), tasks, 0, 3);
  EXPECT_EQ(a.phase, RolloutPhase::failed);
  EXPECT_EQ(a.detail, "3 tasks of version 0 failed; last task error: task: non-zero exit (1)");
}

TEST(Rollout, FirstDeployBelowFailedTaskLimitKeepsWaiting) {
  const json tasks = json::array({
      failed_task(0, "2026-11-22T10:24:30.000000001Z", "task: non-zero exit (2)"),
      failed_task(0, "2026-11-22T10:24:38.223854075Z", "task: non-zero exit (1)"),
      task(0, "starting", "running", "2026-11-22T10:24:39.000000001Z"),
  });
  const auto a = assess_rollout(service(0, 1), tasks, 0, 3);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_EQ(a.detail, "0/1 tasks running; last task error: task: non-zero exit (1)");
}

TEST(Rollout, FailedTasksOfOtherVersionsDoNotCount) {
  const json tasks = json::array({
      failed_task(1, "2026-11-22T10:24:30.000000001Z", "task: non-zero exit (2)"),
      failed_task(1, "2026-11-22T10:24:31.000000001Z", "task: non-zero exit (2)"),
      failed_task(1, "2026-11-22T10:24:32.000000001Z", "task: non-zero exit (2)"),
  });
  const auto a = assess_rollout(service(2, 1), tasks, 2, 3);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
  EXPECT_EQ(a.detail, "0/1 tasks running");
}

TEST(Rollout, FailedTaskLimitOnlyForFirstDeploy) {
  // With an UpdateStatus Swarm's own failure action decides (pause or roll back).
  const json tasks = json::array({
      failed_task(2, "2026-11-22T10:24:30.000000001Z", "task: non-zero exit (1)"),
      failed_task(2, "2026-11-22T10:24:31.000000001Z", "task: non-zero exit (1)"),
      failed_task(2, "2026-11-22T10:24:32.000000001Z", "task: non-zero exit (1)"),
      task(1, "running", "running"),
  });
  const auto a = assess_rollout(service(2, 1, "completed", "update completed"), tasks, 2, 3);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
}

TEST(Rollout, FailedTasksDoNotHideConvergence) {
  const json tasks = json::array({
      failed_task(0, "2026-11-22T10:24:30.000000001Z", "task: non-zero exit (1)"),
      failed_task(0, "2026-11-22T10:24:31.000000001Z", "task: non-zero exit (1)"),
      failed_task(0, "2026-11-22T10:24:32.000000001Z", "task: non-zero exit (1)"),
      task(0, "running", "running", "2026-11-22T10:24:33.000000001Z"),
  });
  const auto a = assess_rollout(service(0, 1), tasks, 0, 3);
  EXPECT_EQ(a.phase, RolloutPhase::converged);
  // ... but they are counted: the deployer restarts its watch of a new service on each one.
  EXPECT_EQ(a.failed, 3);
}

TEST(Rollout, ZeroReplicasWithNoRunningTaskConverges) {
  const auto a = assess_rollout(service(3, 0), json::array({task(3, "shutdown", "shutdown")}), 3);
  EXPECT_EQ(a.phase, RolloutPhase::converged);
  EXPECT_EQ(a.desired, 0);
  EXPECT_EQ(a.running, 0);
}

TEST(Rollout, ZeroReplicasWaitsForOldTaskStillWanted) {
  const auto a = assess_rollout(service(3, 0), json::array({task(2, "running", "running")}), 3);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
}

TEST(Rollout, MissingReplicasMeansOne) {
  json s = service(1, 5);
  s["Spec"]["Mode"] = {{"Global", json::object()}};
  const auto a = assess_rollout(s, json::array(), 1);
  EXPECT_EQ(a.desired, 1);
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
}

TEST(Rollout, MalformedTasksDoNotCrash) {
  const json s = service(1, 1);
  for (const json& tasks : {json(nullptr), json::object(), json("tasks"), json(42)}) {
    const auto a = assess_rollout(s, tasks, 1);
    EXPECT_EQ(a.phase, RolloutPhase::in_progress) << tasks.dump();
    EXPECT_EQ(a.running, 0);
  }
  const json odd = json::array({
      nullptr,
      42,
      "task",
      json::array({1, 2}),
      json::object(),
      {{"Spec", "x"}, {"Status", {{"State", 7}}}, {"DesiredState", true}},
      {{"Spec", {{"ContainerSpec", {{"Labels", {{"captain.version", 1}}}}}}},
       {"Status", {{"State", "running"}}},
       {"DesiredState", "running"}},  // numeric label: not version 1
      {{"Spec", {{"ContainerSpec", {{"Labels", {{"captain.version", "one"}}}}}}},
       {"Status", {{"State", "failed"}, {"Timestamp", 5}, {"Err", nullptr}}},
       {"DesiredState", "shutdown"}},
      {{"Spec", {{"ContainerSpec", {{"Labels", {{"captain.version", "1"}}}}}}},
       {"Status", {{"State", "failed"}}}},  // no timestamp, no error text
  });
  const auto a = assess_rollout(s, odd, 1);
  EXPECT_EQ(a.running, 0);
  // The numeric-label task counts as another version still wanted: not converged.
  EXPECT_EQ(a.phase, RolloutPhase::in_progress);
}

TEST(Rollout, MalformedServiceDoesNotCrash) {
  for (const json& s : {json(nullptr), json::array(), json("svc"),
                        json{{"Spec", 1}, {"UpdateStatus", "updating"}}}) {
    const auto a = assess_rollout(s, json::array({task(1, "running", "running")}), 1);
    EXPECT_EQ(a.desired, 1) << s.dump();
    // No version label: the spec is not this deploy's.
    EXPECT_EQ(a.phase, RolloutPhase::failed) << s.dump();
  }
}

TEST(Rollout, PhaseNames) {
  EXPECT_STREQ(to_string(RolloutPhase::in_progress), "in_progress");
  EXPECT_STREQ(to_string(RolloutPhase::converged), "converged");
  EXPECT_STREQ(to_string(RolloutPhase::rolled_back), "rolled_back");
  EXPECT_STREQ(to_string(RolloutPhase::failed), "failed");
}

}  // namespace
}  // namespace captain::deploy
