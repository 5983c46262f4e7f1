#include "controller/api/deploy_routes.h"

#include "controller/api/mutation.h"
#include "controller/api/stored_app.h"
#include "controller/apps/app_definition.h"
#include "controller/apps/validation.h"
#include "controller/deploy/desired_state.h"
#include "controller/store/app_store.h"

namespace captain::api {
namespace {

constexpr const char* kAppDataPattern = "/user/apps/appData/([^/]+)";

// The image of a captain-definition sent as the JSON string captainDefinitionContent, as the
// caprover CLI does for `deploy --imageName`.
Mutation<std::string> image_of(const nlohmann::json& body) {
  auto content = required_string(body, "captainDefinitionContent");
  if (!content) return Unexpected(content.error());
  nlohmann::json definition;
  try {
    definition = nlohmann::json::parse(*content);
  } catch (const nlohmann::json::parse_error& e) {
    return refuse(
        ApiStatus::illegal_parameter,
        "captainDefinitionContent is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
  if (!definition.is_object()) {
    return refuse(ApiStatus::illegal_parameter, "captainDefinitionContent must be a JSON object");
  }
  const auto version = definition.find("schemaVersion");
  if (version == definition.end() || !version->is_number_integer() || *version != 2) {
    return refuse(ApiStatus::illegal_parameter,
                  "captainDefinitionContent: schemaVersion must be 2");
  }
  const auto image = definition.find("imageName");
  if (image == definition.end() || !image->is_string()) {
    return refuse(ApiStatus::illegal_operation,
                  "captainDefinitionContent must name a prebuilt image (imageName): "
                  "dockerfileLines, dockerfilePath and templateId builds are not supported");
  }
  auto valid = apps::validate_image_reference(image->get<std::string>());
  if (!valid) return refuse(ApiStatus::illegal_parameter, valid.error().message);
  return *valid;
}

ApiResult deploy(ApiServices& services, Call& call) {
  const std::string name = call.path_part(1);
  const bool detached = call.query_flag("detached");
  std::int64_t version = 0;
  std::string image;
  ApiResult result =
      mutate(services, call, {"admin", "apps.deploy", "app:" + name, "", ""},
             [&](store::Transaction& tx) -> Mutation<ApiResult> {
               auto app = load_app(tx, name);
               if (!app) return Unexpected(app.error());
               if (services.builds.status(name).building) {
                 return refuse(ApiStatus::illegal_operation, name + " is already being deployed");
               }
               auto requested = image_of(call.body);
               if (!requested) return Unexpected(requested.error());
               if (auto docker = require_docker(services); !docker)
                 return Unexpected(docker.error());
               image = *requested;
               store::AppStore store;
               auto added = store.add_version(tx, name, image, deploy::kVersionRecorded);
               if (!added) return Unexpected(MutationError(added.error()));
               version = *added;
               apps::AppVersion entry;
               entry.version = static_cast<int>(version);
               entry.image_name = image;
               entry.time_stamp = store::utc_now_iso8601();
               if (auto it = call.body.find("gitHash"); it != call.body.end() && it->is_string()) {
                 entry.git_hash = it->get<std::string>();
               }
               app->versions.push_back(entry);
               if (auto saved = save_app(tx, *app); !saved) {
                 return Unexpected(MutationError(saved.error()));
               }
               ApiResult started = ok("Deploy is started");
               started.status = ApiStatus::deploy_started;
               return started;
             });
  if (!result.succeeded()) return result;

  services.builds.start(name);
  services.builds.log(name, "------------------------- " + store::utc_now_iso8601());
  services.builds.log(name, "Deploy started for " + name);
  services.builds.log(name, "An explicit image name was provided (" + image +
                                "). Therefore, no build process is needed.");
  services.builds.log(name, "Deploying version " + std::to_string(version) + " to Swarm");
  services.app_list.invalidate();  // isAppBuilding is part of the list
  services.deployer.converge(name, call.context);
  if (detached) return result;

  // Not detached: answer when the rollout has ended, as CapRover does when its build is done.
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      services.settings.deploy_timeout + std::chrono::seconds(30));
  const deploy::DeployOutcome outcome = services.deployer.wait_for(name, version, timeout);
  switch (outcome.phase) {
    case deploy::RolloutPhase::converged:
      return ok("Deploy is done");
    case deploy::RolloutPhase::rolled_back:
      return failure(ApiStatus::generic_error,
                     "Deploy of version " + std::to_string(version) +
                         " failed and was rolled back: " + outcome.detail);
    case deploy::RolloutPhase::failed:
      return failure(ApiStatus::generic_error,
                     "Deploy of version " + std::to_string(version) + " failed: " + outcome.detail);
    case deploy::RolloutPhase::in_progress:
      break;
  }
  return failure(ApiStatus::generic_error,
                 "Deploy of version " + std::to_string(version) +
                     " is still rolling out; follow it with GET /api/v2/user/apps/appData/" + name);
}

ApiResult build_status(ApiServices& services, Call& call) {
  const std::string name = call.path_part(1);
  auto exists = services.db.read([&](store::Transaction& tx) -> store::Result<bool> {
    auto record = store::AppStore().get(tx, name);
    if (record) return true;
    if (record.error().kind == store::StoreError::Kind::not_found) return false;
    return Unexpected(record.error());
  });
  if (!exists) return store_failure(services, exists.error(), call.context.request_id);
  if (!*exists) return failure(ApiStatus::not_found, app_not_found(name));
  const auto status = services.builds.status(name);
  nlohmann::ordered_json data;
  data["isAppBuilding"] = status.building;
  data["logs"] = {{"lines", status.lines}, {"firstLineNumber", status.first_line_number}};
  data["isBuildFailed"] = status.failed;
  return ok("App build status retrieved", std::move(data));
}

}  // namespace

void register_deploy_routes(ApiRouter& router, ApiServices& services) {
  // Slow lane: without ?detached=1 the call answers when the rollout ends.
  router.post(
      "/user/apps/appData/:app", kAppDataPattern,
      [&services](Call& call) { return deploy(services, call); }, http::Lane::slow);
  router.get("/user/apps/appData/:app", kAppDataPattern,
             [&services](Call& call) { return build_status(services, call); });
}

}  // namespace captain::api
