// What the /api/v2 handlers work with: the store, sessions, audit trail, metrics, deploy
// progress, the deployer and settings. Built once in main.cpp; handlers hold a reference.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "controller/api/api_metrics.h"
#include "controller/api/app_list_cache.h"
#include "controller/api/envelope.h"
#include "controller/apps/app_definition.h"
#include "controller/audit/audit_trail.h"
#include "controller/auth/sessions.h"
#include "controller/config/settings.h"
#include "controller/deploy/build_log.h"
#include "controller/deploy/deployer.h"
#include "controller/log/json_log.h"
#include "controller/store/sqlite.h"

namespace captain::api {

struct ApiServices {
  store::Database& db;
  auth::Sessions& sessions;
  audit::AuditTrail& audit;
  ApiMetrics& metrics;
  deploy::BuildLogs& builds;
  const config::Settings& settings;
  logging::JsonLog& log;
  AppListCache& app_list;      // invalidated after every committed change
  deploy::Deployer& deployer;  // makes Swarm follow the store
  // nginx: told after every committed change; asked before an app change that nginx would
  // see is stored (nullopt: fine, else nginx's refusal for 1116). Unset when nginx_reload=off.
  std::function<void()> nginx_changed;
  std::function<std::optional<std::string>(store::Transaction&, const apps::AppDefinition&)>
      nginx_check;
};

// The envelope for a store failure: precise for the kinds a client can act on (not found,
// exists), generic otherwise; unexpected failures are counted and logged with the request id.
ApiResult store_failure(ApiServices& services, const store::StoreError& error,
                        const std::string& request_id);

}  // namespace captain::api
