// What Swarm should run for one app, read from the store: the definition and the version to
// run, or, for a deleted app, whether its service (and which volumes) are to be removed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/apps/app_definition.h"
#include "controller/store/app_store.h"
#include "controller/store/sqlite.h"

namespace captain::deploy {

// Version statuses in app_versions.status, in the order a deploy moves through them.
inline constexpr const char* kVersionRecorded = "recorded";    // accepted by the API
inline constexpr const char* kVersionDeploying = "deploying";  // sent to Swarm, rolling out
inline constexpr const char* kVersionDeployed = "deployed";    // converged
inline constexpr const char* kVersionRolledBack = "rolled_back";
inline constexpr const char* kVersionFailed = "failed";

struct DesiredState {
  std::string app;
  std::optional<apps::AppDefinition> definition;  // nullopt: the app is not in the store
  // The version Swarm should run: the newest one that is recorded, deploying or deployed.
  // Versions that failed or were rolled back are skipped, so the previous good one stays.
  std::optional<store::AppVersion> target;
  // Deleted app: its service is removed, and these volumes with it. nullopt for an app that
  // was never deleted through the API (a service of ours without an app is then an orphan).
  std::optional<std::vector<std::string>> removal;
};

// The version to run among an app's versions (oldest first), as DesiredState::target.
std::optional<store::AppVersion> target_version(const std::vector<store::AppVersion>& versions);
bool rollout_pending(const store::AppVersion& version);  // recorded or deploying

store::Result<DesiredState> load_desired_state(store::Transaction& tx, const std::string& app);

// Written in the delete's own transaction, so a crash between the commit and the Swarm call
// still removes the service on the next reconcile. `volumes` are app volume names.
store::Status mark_for_removal(store::Transaction& tx, const std::string& app,
                               const std::vector<std::string>& volumes);
store::Status clear_removal(store::Transaction& tx, const std::string& app);
// Apps deleted whose services may still exist.
store::Result<std::vector<std::string>> pending_removals(store::Transaction& tx);

}  // namespace captain::deploy
