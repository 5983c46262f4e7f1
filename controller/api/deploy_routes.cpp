#include "controller/api/deploy_routes.h"

#include "controller/api/mutation.h"
#include "controller/api/stored_app.h"
#include "controller/apps/app_definition.h"
#include "controller/apps/validation.h"
#include "controller/auth/secrets.h"
#include "controller/deploy/builder.h"
#include "controller/deploy/desired_state.h"
#include "controller/http/multipart_file.h"
#include "controller/source/captain_definition.h"
#include "controller/store/app_store.h"

namespace captain::api {
namespace {

constexpr const char* kAppDataPattern = "/user/apps/appData/([^/]+)";

// What a deploy asks for: a prebuilt image (deployed as is), or a build from source (an uploaded
// tar, or a captain-definition sent as text with dockerfileLines).
struct DeployRequest {
  std::optional<std::string> image;  // captainDefinitionContent naming a prebuilt image
  deploy::BuildSource source;        // otherwise: what to build
  std::string git_hash;
};

// captainDefinitionContent as the caprover CLI sends it (`deploy --imageName`, or its own JSON).
Mutation<DeployRequest> from_definition_text(const std::string& content) {
  auto definition = source::parse_captain_definition(content);
  if (!definition) {
    return refuse(ApiStatus::illegal_parameter, "captainDefinitionContent: " + definition.error());
  }
  DeployRequest request;
  if (definition->image_name) {
    auto valid = apps::validate_image_reference(*definition->image_name);
    if (!valid) return refuse(ApiStatus::illegal_parameter, valid.error().message);
    request.image = *valid;
    return request;
  }
  if (definition->dockerfile_path) {
    return refuse(ApiStatus::illegal_parameter,
                  "captainDefinitionContent names a dockerfilePath, but no source was uploaded "
                  "to read it from: upload the source (sourceFile), or use dockerfileLines");
  }
  request.source.definition_text = content;
  return request;
}

// A JSON body: {captainDefinitionContent, gitHash}.
Mutation<DeployRequest> from_json_body(const nlohmann::json& body) {
  auto content = required_string(body, "captainDefinitionContent");
  if (!content) return Unexpected(content.error());
  auto request = from_definition_text(*content);
  if (!request) return request;
  if (auto it = body.find("gitHash"); it != body.end() && it->is_string()) {
    request->git_hash = it->get<std::string>();
  }
  return request;
}

// A multipart upload: sourceFile (a tar, optionally gzipped) or captainDefinitionContent, and
// gitHash, as CapRover's route reads them.
Mutation<DeployRequest> from_upload(const http::Request& req) {
  auto boundary = http::multipart_boundary(req.get_header_value("Content-Type"));
  if (!boundary) return refuse(ApiStatus::illegal_parameter, boundary.error());
  auto parts = http::read_multipart_file(req.body_file, *boundary);
  if (!parts) return refuse(ApiStatus::illegal_parameter, "the upload: " + parts.error());
  const http::MultipartPart* file = nullptr;
  std::string content, git_hash;
  for (const auto& part : *parts) {
    if (part.name == "sourceFile") {
      file = &part;
    } else if (part.name == "captainDefinitionContent" || part.name == "gitHash") {
      auto text = http::read_part_text(req.body_file, part);
      if (!text) return refuse(ApiStatus::illegal_parameter, text.error());
      (part.name == "gitHash" ? git_hash : content) = std::move(*text);
    }
  }
  if ((file != nullptr) == !content.empty()) {
    return refuse(ApiStatus::illegal_operation,
                  "Either sourceFile or captainDefinitionContent should be provided, but not "
                  "both.");
  }
  DeployRequest request;
  if (file == nullptr) {
    auto from_text = from_definition_text(content);
    if (!from_text) return from_text;
    request = std::move(*from_text);
  } else {
    if (file->length == 0) return refuse(ApiStatus::illegal_parameter, "sourceFile is empty");
    request.source.upload_file = req.body_file;
    request.source.tar_offset = file->offset;
    request.source.tar_length = file->length;
  }
  request.git_hash = git_hash;
  return request;
}

ApiResult wait_for_rollout(ApiServices& services, const std::string& name, std::int64_t version) {
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

// A prebuilt image: recorded as the next version and rolled out, no build.
ApiResult deploy_image(ApiServices& services, Call& call, const std::string& name,
                       const std::string& image, const std::string& git_hash) {
  std::int64_t version = 0;
  ApiResult result =
      mutate(services, call, {"admin", "apps.deploy", "app:" + name, "", ""},
             [&](store::Transaction& tx) -> Mutation<ApiResult> {
               auto app = load_app(tx, name);
               if (!app) return Unexpected(app.error());
               if (services.builds.status(name).building) {
                 return refuse(ApiStatus::illegal_operation, name + " is already being deployed");
               }
               if (auto docker = require_docker(services); !docker)
                 return Unexpected(docker.error());
               store::AppStore store;
               auto added = store.add_version(tx, name, image, deploy::kVersionRecorded);
               if (!added) return Unexpected(MutationError(added.error()));
               version = *added;
               apps::AppVersion entry;
               entry.version = static_cast<int>(version);
               entry.image_name = image;
               entry.time_stamp = store::utc_now_iso8601();
               entry.git_hash = git_hash;
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
  if (call.query_flag("detached")) return result;
  // Not detached: answer when the rollout has ended, as CapRover does when its build is done.
  return wait_for_rollout(services, name, version);
}

// A build from source: queued for the builder (a newer deploy of the app replaces a queued
// one); answered at once with ?detached=1, else when the build and its rollout have ended.
ApiResult deploy_source(ApiServices& services, Call& call, const std::string& name,
                        DeployRequest request) {
  deploy::BuildJob job;
  ApiResult result = mutate(services, call, {"admin", "apps.deploy", "app:" + name, "", ""},
                            [&](store::Transaction& tx) -> Mutation<ApiResult> {
                              auto app = load_app(tx, name);
                              if (!app) return Unexpected(app.error());
                              if (auto docker = require_docker(services); !docker)
                                return Unexpected(docker.error());
                              job = deploy::build_job_for(*app, call.context);
                              job.source = std::move(request.source);
                              job.git_hash = request.git_hash;
                              ApiResult started = ok("Deploy is started");
                              started.status = ApiStatus::deploy_started;
                              return started;
                            });
  if (!result.succeeded()) return result;
  auto id = services.builder.submit(std::move(job));
  if (!id) return failure(ApiStatus::generic_error, "the deploy was not queued: " + id.error());
  services.app_list.invalidate();  // isAppBuilding is part of the list
  if (call.query_flag("detached")) return result;

  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      services.builder.options().build_timeout + std::chrono::minutes(10));
  const deploy::BuildOutcome built = services.builder.wait_for(*id, timeout);
  switch (built.kind) {
    case deploy::BuildOutcome::Kind::built:
      return wait_for_rollout(services, name, built.version);
    case deploy::BuildOutcome::Kind::failed:
      return failure(ApiStatus::build_error, "Build has failed: " + built.detail);
    case deploy::BuildOutcome::Kind::replaced:
      return failure(ApiStatus::generic_error,
                     "A newer deploy of " + name + " replaced this one before it was built");
    case deploy::BuildOutcome::Kind::pending:
      break;
  }
  return failure(
      ApiStatus::generic_error,
      "The build is still running; follow it with GET /api/v2/user/apps/appData/" + name);
}

ApiResult deploy(ApiServices& services, Call& call) {
  const std::string name = call.path_part(1);
  auto request = !call.req.body_file.empty() && call.req.is_multipart_form_data()
                     ? from_upload(call.req)
                     : from_json_body(call.body);
  if (!request) {
    ApiResult refused = request.error().refusal;
    services.audit.record_alone(
        call.context,
        {"admin", "apps.deploy", "app:" + name,
         "error:" + std::to_string(static_cast<int>(refused.status)), refused.description});
    return refused;
  }
  if (request->image) return deploy_image(services, call, name, *request->image, request->git_hash);
  return deploy_source(services, call, name, std::move(*request));
}

// Whether `token` is `app`'s enabled deploy token, compared in constant time.
bool deploy_token_matches(ApiServices& services, const std::string& app, const std::string& token) {
  auto expected = services.db.read([&](store::Transaction& tx) -> store::Result<std::string> {
    auto record = store::AppStore().get(tx, app);
    if (!record) return Unexpected(record.error());
    auto definition = apps::from_json(record->definition);
    if (!definition || !definition->deploy_token_enabled) return std::string();
    return definition->deploy_token;
  });
  return expected && auth::same_secret(*expected, token);
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
  // Slow lane: without ?detached=1 the call answers when the rollout ends. The body (a source
  // upload) is spooled to disk as it arrives, once the token has been checked.
  router.upload(
      "/user/apps/appData/:app", kAppDataPattern,
      [&services](Call& call) { return deploy(services, call); }, http::Lane::slow,
      services.settings.upload_max_bytes, services.builder.options().builds_dir + "/uploads",
      [&services](const std::string& app, const std::string& token) {
        return deploy_token_matches(services, app, token);
      });
  router.get("/user/apps/appData/:app", kAppDataPattern,
             [&services](Call& call) { return build_status(services, call); });
}

}  // namespace captain::api
