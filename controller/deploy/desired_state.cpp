#include "controller/deploy/desired_state.h"

#include <nlohmann/json.hpp>
#include <string_view>

#include "controller/store/settings_store.h"

namespace captain::deploy {
namespace {

constexpr std::string_view kRemovalPrefix = "swarm.remove.";

std::string removal_key(const std::string& app) {
  return std::string(kRemovalPrefix) + app;
}

}  // namespace

bool rollout_pending(const store::AppVersion& version) {
  return version.status == kVersionRecorded || version.status == kVersionDeploying;
}

std::optional<store::AppVersion> target_version(const std::vector<store::AppVersion>& versions) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (rollout_pending(*it) || it->status == kVersionDeployed) return *it;
  }
  return std::nullopt;
}

store::Result<DesiredState> load_desired_state(store::Transaction& tx, const std::string& app) {
  DesiredState state;
  state.app = app;
  store::AppStore apps;
  auto record = apps.get(tx, app);
  if (record) {
    auto definition = apps::from_json(record->definition);
    if (!definition) {
      store::StoreError error;
      error.kind = store::StoreError::Kind::invalid;
      error.message = "app " + app + ": stored definition unreadable: " + definition.error();
      return Unexpected(error);
    }
    state.definition = std::move(*definition);
    auto versions = apps.versions(tx, app);
    if (!versions) return Unexpected(versions.error());
    state.target = target_version(*versions);
  } else if (record.error().kind != store::StoreError::Kind::not_found) {
    return Unexpected(record.error());
  }
  auto removal = store::SettingsStore().get(tx, removal_key(app));
  if (!removal) return Unexpected(removal.error());
  if (*removal) {
    std::vector<std::string> volumes;
    const auto parsed = nlohmann::json::parse(**removal, nullptr, false);
    if (parsed.is_array()) {
      for (const auto& v : parsed) {
        if (v.is_string()) volumes.push_back(v.get<std::string>());
      }
    }
    state.removal = std::move(volumes);
  }
  return state;
}

store::Status mark_for_removal(store::Transaction& tx, const std::string& app,
                               const std::vector<std::string>& volumes) {
  return store::SettingsStore().set(tx, removal_key(app), nlohmann::json(volumes).dump());
}

store::Status clear_removal(store::Transaction& tx, const std::string& app) {
  return store::SettingsStore().erase(tx, removal_key(app));
}

store::Result<std::vector<std::string>> pending_removals(store::Transaction& tx) {
  auto stmt = tx.prepare("SELECT key FROM settings WHERE key LIKE 'swarm.remove.%' ORDER BY key");
  if (!stmt) return Unexpected(stmt.error());
  std::vector<std::string> apps;
  while (true) {
    auto row = stmt->step();
    if (!row) return Unexpected(row.error());
    if (!*row) break;
    apps.push_back(stmt->column_text(0).substr(kRemovalPrefix.size()));
  }
  return apps;
}

}  // namespace captain::deploy
