#include "controller/api/system_routes.h"

#include "controller/api/mutation.h"
#include "controller/api/version.h"
#include "controller/apps/app_definition.h"
#include "controller/apps/validation.h"
#include "controller/store/backup.h"
#include "controller/store/system_store.h"

namespace captain::api {
namespace {

ApiResult system_info(ApiServices& services, Call& call) {
  auto system =
      services.db.read([](store::Transaction& tx) { return store::SystemStore().load(tx); });
  if (!system) return store_failure(services, system.error(), call.context.request_id);
  nlohmann::ordered_json data;
  data["hasRootSsl"] = system->has_root_ssl;
  data["forceSsl"] = system->force_ssl;
  data["rootDomain"] = system->root_or(services.settings.root_domain);
  data["captainSubDomain"] = "captain";
  return ok("Captain info retrieved", std::move(data));
}

// CapRover's VersionManager asks api-v1.caprover.com (or Docker Hub) for the latest version and
// falls back to "current = latest, cannot update" when that fails. This controller never contacts
// the internet, so it always answers that fallback: its own version, canUpdate false.
ApiResult version_info() {
  const std::string version(kControllerVersion);
  nlohmann::ordered_json data;
  data["currentVersion"] = version;
  data["latestVersion"] = version;
  data["changeLogMessage"] = "";
  data["canUpdate"] = false;
  return ok("Version Info Retrieved", std::move(data));
}

ApiResult export_backup(ApiServices& services, Call& call) {
  auto backup = services.db.read([](store::Transaction& tx) { return store::export_backup(tx); });
  if (!backup) return store_failure(services, backup.error(), call.context.request_id);
  return ok("Backup exported", nlohmann::ordered_json(*backup));
}

// Every imported definition must read back as an app of the model, under a valid name.
store::Status validate_backup_app(std::string_view name, const nlohmann::json& definition) {
  if (auto valid = apps::validate_app_name(name); !valid) {
    return store::store_error(store::StoreError::Kind::invalid, valid.error().message);
  }
  auto app = apps::from_json(definition);
  if (!app) {
    return store::store_error(store::StoreError::Kind::invalid,
                              "app " + std::string(name) + ": " + app.error());
  }
  if (app->app_name != name) {
    return store::store_error(
        store::StoreError::Kind::invalid,
        "app " + std::string(name) + ": appName is \"" + app->app_name + "\"");
  }
  return {};
}

ApiResult import_backup(ApiServices& services, Call& call) {
  return mutate(services, call, {"admin", "system.backup.import", "apps", "", ""},
                [&](store::Transaction& tx) -> Mutation<ApiResult> {
                  store::ImportOptions options;
                  options.replace = call.query_flag("replace");
                  options.validate = validate_backup_app;
                  store::AppStore apps;
                  auto imported = store::import_backup(tx, apps, call.body, options);
                  if (!imported) {
                    const auto& error = imported.error();
                    if (error.kind == store::StoreError::Kind::invalid) {
                      return refuse(ApiStatus::illegal_parameter, error.message);
                    }
                    if (error.kind == store::StoreError::Kind::exists) {
                      return refuse(ApiStatus::already_exists,
                                    error.message + " (add ?replace=1 to overwrite)");
                    }
                    return Unexpected(MutationError(error));
                  }
                  nlohmann::ordered_json data;
                  data["imported"] = *imported;
                  return ok("Backup imported: " + std::to_string(*imported) + " apps",
                            std::move(data));
                });
}

}  // namespace

void register_system_routes(ApiRouter& router, ApiServices& services) {
  router.get("/user/system/info", "/user/system/info",
             [&services](Call& call) { return system_info(services, call); });
  // CapRover registers /versionInfo/ on a case-insensitive express router; the caprover CLI
  // (ApiManager.getVersionInfo) asks for /versioninfo.
  router.get("/user/system/versioninfo", "/user/system/version[Ii]nfo",
             [](Call&) { return version_info(); });
  router.get("/user/system/backup", "/user/system/backup",
             [&services](Call& call) { return export_backup(services, call); });
  router.post("/user/system/backup", "/user/system/backup",
              [&services](Call& call) { return import_backup(services, call); });
}

}  // namespace captain::api
