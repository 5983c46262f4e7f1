#include "controller/api/webhook_routes.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "controller/api/mutation.h"
#include "controller/auth/secrets.h"
#include "controller/deploy/builder.h"
#include "controller/store/app_store.h"

namespace captain::api {
namespace {

constexpr std::size_t kWebhookBodyLimit = 2 * 1024 * 1024;  // CapRover's form limit

// The app whose webhook token this is.
store::Result<std::optional<apps::AppDefinition>> app_of_token(ApiServices& services,
                                                               const std::string& token) {
  return services.db.read(
      [&](store::Transaction& tx) -> store::Result<std::optional<apps::AppDefinition>> {
        auto records = store::AppStore().list(tx);
        if (!records) return Unexpected(records.error());
        for (const auto& record : *records) {
          auto app = apps::from_json(record.definition);
          if (app && app->push_webhook &&
              auth::same_secret(app->push_webhook->push_webhook_token, token)) {
            return std::optional<apps::AppDefinition>(std::move(*app));
          }
        }
        return std::optional<apps::AppDefinition>();
      });
}

// The branches a push payload names, as CapRover reads GitHub (JSON, or a form with
// payload=<JSON>), Bitbucket and GitLab; empty for any other sender (which then builds).
Expected<std::vector<std::string>, std::string> pushed_branches(const http::Request& req) {
  const bool github = req.get_header_value("X-GitHub-Event") == "push";
  const bool bitbucket = req.get_header_value("X-Event-Key") == "repo:push" &&
                         req.has_header("X-Request-UUID") && req.has_header("X-Hook-UUID");
  const bool gitlab = req.get_header_value("X-Gitlab-Event") == "Push Hook";
  if (!github && !bitbucket && !gitlab) return std::vector<std::string>{};
  std::string text = req.body;
  if (req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded")) {
    std::string path;
    std::multimap<std::string, std::string> form;
    http::split_target("?" + req.body, path, form);
    auto payload = form.find("payload");
    if (payload == form.end()) return Unexpected(std::string("the form has no payload field"));
    text = payload->second;
  }
  const auto body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_object()) return Unexpected(std::string("the push payload is not a JSON object"));
  const auto branch_of_ref = [](const nlohmann::json& ref) -> std::optional<std::string> {
    constexpr std::string_view kHeads = "refs/heads/";
    if (!ref.is_string()) return std::nullopt;
    const std::string name = ref.get<std::string>();
    if (!name.starts_with(kHeads)) return std::nullopt;  // a tag push builds nothing
    return name.substr(kHeads.size());
  };
  std::vector<std::string> branches;
  if (github || gitlab) {
    auto ref = body.find("ref");
    if (ref == body.end()) return Unexpected(std::string("the push payload has no ref"));
    if (auto branch = branch_of_ref(*ref)) branches.push_back(*branch);
    if (branches.empty()) branches.push_back("");  // a tag: matches no branch
  } else {
    const auto changes =
        body.contains("push") ? body["push"].value("changes", nlohmann::json()) : nlohmann::json();
    if (!changes.is_array()) return Unexpected(std::string("the push payload has no changes"));
    for (const auto& change : changes) {
      if (change.is_object() && change.contains("new") && change["new"].is_object() &&
          change["new"].value("type", "branch") == "branch" && change["new"]["name"].is_string()) {
        branches.push_back(change["new"]["name"].get<std::string>());
      }
    }
    if (branches.empty()) branches.push_back("");
  }
  return branches;
}

ApiResult refused_hook(ApiStatus status, int http_status, std::string description) {
  ApiResult result = failure(status, std::move(description));
  result.http_status = http_status;
  return result;
}

ApiResult trigger_build(ApiServices& services, Call& call) {
  const std::string token = call.req.get_param_value("token");
  if (call.req.has_param("namespace") && call.req.get_param_value("namespace") != "captain") {
    return refused_hook(ApiStatus::generic_error, 404, "Namespace unknown");
  }
  auto found = app_of_token(services, token);
  if (!found) return store_failure(services, found.error(), call.context.request_id);
  if (!*found) {
    services.audit.record_alone(call.context, {"webhook", "apps.webhook", "app:", "error:1106",
                                               "no app has this webhook token"});
    return refused_hook(ApiStatus::auth_token_invalid, 401,
                        "Error triggering a build: the webhook token is not valid");
  }
  const apps::AppDefinition& app = **found;
  const apps::RepoInfo& repo = app.push_webhook->repo_info;

  auto branches = pushed_branches(call.req);
  if (!branches) {
    return refused_hook(ApiStatus::illegal_parameter, 400,
                        "Error triggering a build: " + branches.error());
  }
  if (!branches->empty() &&
      std::find(branches->begin(), branches->end(), repo.branch) == branches->end()) {
    std::string pushed;
    for (const auto& b : *branches) pushed += (pushed.empty() ? "" : ", ") + b;
    return ok("Build webhook ignored: the push was to " + pushed + ", " + app.app_name +
              " builds " + repo.branch);
  }
  if (auto docker = require_docker(services); !docker) {
    ApiResult refused = docker.error().refusal;
    refused.http_status = 503;
    return refused;
  }
  deploy::BuildJob job = deploy::build_job_for(app, call.context);
  job.source.repo =
      source::GitRemote{repo.repo, repo.branch, repo.user, repo.password, repo.ssh_key};
  auto id = services.builder.submit(std::move(job));
  audit::AuditEntry entry{"webhook", "apps.webhook", "app:" + app.app_name, "ok",
                          "branch " + repo.branch};
  if (!id) {
    entry.result = "error:1000";
    entry.detail = id.error();
    services.audit.record_alone(call.context, entry);
    return refused_hook(ApiStatus::generic_error, 503, "Error triggering a build: " + id.error());
  }
  services.audit.record_alone(call.context, entry);
  services.app_list.invalidate();
  return ok("Build webhook has triggered");
}

}  // namespace

void register_webhook_routes(ApiRouter& router, ApiServices& services) {
  router.webhook(
      "/user/apps/webhooks/triggerbuild", "/user/apps/webhooks/triggerbuild",
      [&services](Call& call) { return trigger_build(services, call); }, kWebhookBodyLimit);
}

}  // namespace captain::api
