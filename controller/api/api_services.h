// What the /api/v2 handlers work with: the store, sessions, audit trail, metrics, deploy
// progress, the deployer and settings. Built once in main.cpp; handlers hold a reference.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "controller/acme/acme_client.h"
#include "controller/api/api_metrics.h"
#include "controller/api/app_list_cache.h"
#include "controller/api/envelope.h"
#include "controller/apps/app_definition.h"
#include "controller/audit/audit_trail.h"
#include "controller/auth/sessions.h"
#include "controller/config/settings.h"
#include "controller/deploy/build_log.h"
#include "controller/deploy/builder.h"
#include "controller/deploy/deployer.h"
#include "controller/deploy/image_catalog.h"
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
  deploy::Builder& builder;    // builds images from uploaded source
  deploy::ImageCatalog& images;  // the apps' unused images
  // nginx: told after every committed change; asked before an app change that nginx would
  // see is stored (nullopt: fine, else nginx's refusal for 1116). Unset when nginx_reload=off.
  std::function<void()> nginx_changed;
  std::function<std::optional<std::string>(store::Transaction&, const apps::AppDefinition&)>
      nginx_check;
  // Puts what is committed live in nginx now and waits for it: nullopt once live, else why not.
  std::function<std::optional<std::string>()> nginx_apply_now;
  // Why parts of an app are not served as defined (no usable certificate, snippet refused):
  // shown in its definition. "" is captain.<root>.
  std::function<std::vector<std::string>(const std::string& app)> nginx_problems;
  // HTTPS: gets a certificate for a domain from the ACME CA now. Unset when nginx is not
  // managed (nginx_reload=off): there is nothing to serve it with.
  std::function<Expected<void, acme::AcmeError>(const std::string& domain,
                                                const std::string& email)>
      obtain_certificate;
};

// The envelope for a store failure: precise for the kinds a client can act on (not found,
// exists), generic otherwise; unexpected failures are counted and logged with the request id.
ApiResult store_failure(ApiServices& services, const store::StoreError& error,
                        const std::string& request_id);

}  // namespace captain::api
