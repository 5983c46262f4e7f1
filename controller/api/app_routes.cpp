#include "controller/api/app_routes.h"

#include <algorithm>
#include <vector>

#include "controller/api/mutation.h"
#include "controller/api/stored_app.h"
#include "controller/apps/app_definition.h"
#include "controller/apps/validation.h"
#include "controller/auth/secrets.h"
#include "controller/deploy/desired_state.h"
#include "controller/store/app_store.h"
#include "controller/store/system_store.h"

namespace captain::api {
namespace {

Mutation<std::string> app_name_of(const nlohmann::json& body) {
  return required_string(body, "appName");
}

ApiResult list_apps(ApiServices& services, Call& call) {
  auto rendered = services.app_list.get();
  if (!rendered) {
    const std::uint64_t generation = services.app_list.generation();
    std::string root = services.settings.root_domain;
    auto listed = services.db.read([&](store::Transaction& tx) -> Mutation<nlohmann::ordered_json> {
      auto system = store::SystemStore().load(tx);
      if (!system) return Unexpected(MutationError(system.error()));
      root = system->root_or(services.settings.root_domain);
      auto records = store::AppStore().list(tx);
      if (!records) return Unexpected(MutationError(records.error()));
      nlohmann::ordered_json definitions = nlohmann::ordered_json::array();
      for (const auto& record : *records) {
        auto app = apps::from_json(record.definition);
        if (!app) {
          return Unexpected(
              MutationError(store::StoreError{store::StoreError::Kind::invalid, 0,
                                              "stored app " + record.name + ": " + app.error()}));
        }
        const bool building = services.builds.status(record.name).building;
        auto definition = nlohmann::ordered_json(apps::to_caprover_json(*app, building));
        // Ours: why parts of the app are not served as defined (a certificate that is missing
        // or expired, a refused snippet); empty when nginx serves it as defined.
        definition["nginxProblems"] = services.nginx_problems ? services.nginx_problems(record.name)
                                                              : std::vector<std::string>{};
        definitions.push_back(std::move(definition));
      }
      return definitions;
    });
    if (!listed) {
      return listed.error().store
                 ? store_failure(services, *listed.error().store, call.context.request_id)
                 : listed.error().refusal;
    }
    nlohmann::ordered_json data;
    data["appDefinitions"] = std::move(*listed);
    data["rootDomain"] = root;
    data["captainSubDomain"] = "captain";
    data["defaultNginxConfig"] = "";
    rendered = std::make_shared<const std::string>(
        envelope_body(ok("App definitions are retrieved.", std::move(data))));
    services.app_list.put(generation, rendered);
  }
  ApiResult result = ok("App definitions are retrieved.");
  result.rendered = std::move(rendered);
  return result;
}

ApiResult register_app(ApiServices& services, Call& call) {
  auto app_name = app_name_of(call.body);
  const std::string name = app_name ? *app_name : "";
  return mutate(services, call, {"admin", "apps.register", "app:" + name, "", ""},
                [&](store::Transaction& tx) -> Mutation<ApiResult> {
                  if (!app_name) return Unexpected(app_name.error());
                  if (auto valid = apps::validate_app_name(*app_name); !valid) {
                    return refuse(ApiStatus::bad_name, valid.error().message);
                  }
                  bool persistent = false;
                  if (auto it = call.body.find("hasPersistentData");
                      it != call.body.end() && !it->is_null()) {
                    if (!it->is_boolean()) {
                      return refuse(ApiStatus::illegal_parameter,
                                    "hasPersistentData must be true or false");
                    }
                    persistent = it->get<bool>();
                  }
                  const auto app = apps::make_app_definition(*app_name, persistent);
                  auto inserted = store::AppStore().insert(tx, *app_name, apps::to_json(app));
                  if (!inserted) {
                    if (inserted.error().kind == store::StoreError::Kind::exists) {
                      return refuse(ApiStatus::already_exists,
                                    "App Name already exists. Please use a different name");
                    }
                    return Unexpected(MutationError(inserted.error()));
                  }
                  return ok("App Definition Saved");
                });
}

// Whether an update changes what the app's nginx server looks like (then nginx -t checks it).
bool nginx_sees_change(const apps::AppDefinition& before, const apps::AppDefinition& after) {
  return before.custom_nginx_config != after.custom_nginx_config ||
         before.custom_domain != after.custom_domain || before.rate_limit != after.rate_limit ||
         before.cache != after.cache || before.header_policy != after.header_policy ||
         before.websocket_support != after.websocket_support ||
         before.force_ssl != after.force_ssl ||
         before.not_expose_as_web_app != after.not_expose_as_web_app ||
         before.container_http_port != after.container_http_port;
}

ApiResult update_app(ApiServices& services, Call& call) {
  auto app_name = app_name_of(call.body);
  const std::string name = app_name ? *app_name : "";
  bool deployed = false;
  ApiResult result =
      mutate(services, call, {"admin", "apps.update", "app:" + name, "", ""},
             [&](store::Transaction& tx) -> Mutation<ApiResult> {
               if (!app_name) return Unexpected(app_name.error());
               auto current = load_app(tx, name);
               if (!current) return Unexpected(current.error());
               auto updated = apps::apply_update(*current, call.body);
               if (!updated) {
                 if (updated.error().field == "forceSsl") {
                   // CapRover's status and words for this one.
                   return refuse(ApiStatus::illegal_operation,
                                 "Cannot force SSL without at least one SSL-enabled domain!");
                 }
                 return refuse(ApiStatus::illegal_parameter, updated.error().message);
               }
               if (updated->push_webhook && updated->push_webhook->push_webhook_token.empty()) {
                 auto token = auth::random_secret(24);
                 auto version = auth::random_secret(12);
                 if (!token || !version) return refuse(ApiStatus::generic_error, "no randomness");
                 updated->push_webhook->push_webhook_token = *token;
                 updated->push_webhook->token_version = *version;
               }
               if (updated->deploy_token_enabled && updated->deploy_token.empty()) {
                 auto token = auth::random_secret(24);  // 32 characters, as CapRover's
                 if (!token) return refuse(ApiStatus::generic_error, token.error());
                 updated->deploy_token = *token;
               }
               if (services.nginx_check && nginx_sees_change(*current, *updated)) {
                 if (auto refused = services.nginx_check(tx, *updated)) {
                   return refuse(ApiStatus::nginx_validation_failed,
                                 "nginx refused the configuration for app \"" + name +
                                     "\"; nothing was changed: " + *refused);
                 }
               }
               // An app with a service: the change goes to Swarm, so Docker must be there.
               deployed = !current->versions.empty();
               if (deployed) {
                 if (auto docker = require_docker(services); !docker) {
                   return Unexpected(docker.error());
                 }
               }
               if (auto saved = save_app(tx, *updated); !saved) {
                 return Unexpected(MutationError(saved.error()));
               }
               return ok("Updated App Definition Saved");
             });
  if (result.succeeded() && deployed) services.deployer.converge(name, call.context);
  return result;
}

ApiResult delete_apps(ApiServices& services, Call& call) {
  // CapRover takes appName or appNames (not both).
  std::vector<std::string> names;
  std::string problem;
  const bool has_one = call.body.contains("appName") && !call.body["appName"].is_null();
  const bool has_many = call.body.contains("appNames") && !call.body["appNames"].is_null();
  if (has_one == has_many) {
    problem = "Either appName or appNames should be provided";
  } else if (has_one) {
    if (!call.body["appName"].is_string()) {
      problem = "appName must be a string";
    } else {
      names.push_back(call.body["appName"].get<std::string>());
    }
  } else if (!call.body["appNames"].is_array() || call.body["appNames"].empty()) {
    problem = "appNames must be a non-empty array of app names";
  } else {
    for (const auto& n : call.body["appNames"]) {
      if (!n.is_string()) {
        problem = "appNames must contain only strings";
        break;
      }
      names.push_back(n.get<std::string>());
    }
  }
  // CapRover's volumes: names of the apps' volumes to delete with them (else they stay).
  std::vector<std::string> volumes;
  if (auto it = call.body.find("volumes");
      problem.empty() && it != call.body.end() && !it->is_null()) {
    if (!it->is_array()) problem = "volumes must be an array of volume names";
    for (const auto& v : *it) {
      if (!problem.empty()) break;
      if (!v.is_string() || v.get<std::string>().empty()) {
        problem = "volumes must contain only volume names";
      } else {
        volumes.push_back(v.get<std::string>());
      }
    }
  }
  std::string resource = "app:";
  for (std::size_t i = 0; i < names.size(); ++i) resource += (i ? "," : "") + names[i];
  bool docker_checked = false;
  std::vector<std::string> with_services;
  ApiResult result =
      mutate(services, call, {"admin", "apps.delete", resource, "", ""},
             [&](store::Transaction& tx) -> Mutation<ApiResult> {
               if (!problem.empty()) {
                 return refuse(has_one == has_many ? ApiStatus::illegal_operation
                                                   : ApiStatus::illegal_parameter,
                               problem);
               }
               store::AppStore store;
               for (const auto& name : names) {
                 auto versions = store.versions(tx, name);
                 if (!versions) return Unexpected(MutationError(versions.error()));
                 if (!versions->empty()) {
                   // Its service goes too: remembered in this transaction, so a crash before
                   // Swarm hears of it still removes the service on the next reconcile.
                   if (!docker_checked) {
                     if (auto docker = require_docker(services); !docker) {
                       return Unexpected(docker.error());
                     }
                     docker_checked = true;
                   }
                   if (auto marked = deploy::mark_for_removal(tx, name, volumes); !marked) {
                     return Unexpected(MutationError(marked.error()));
                   }
                   with_services.push_back(name);
                 }
                 auto removed = store.remove(tx, name);
                 if (!removed) {
                   if (removed.error().kind == store::StoreError::Kind::not_found) {
                     return refuse(ApiStatus::not_found, app_not_found(name));  // rolls back all
                   }
                   return Unexpected(MutationError(removed.error()));
                 }
               }
               return ok("App is deleted");
             });
  if (result.succeeded()) {
    for (const auto& name : names) services.builds.forget(name);
    services.app_list.invalidate();
    for (const auto& name : with_services) services.deployer.converge(name, call.context);
  }
  return result;
}

ApiResult add_custom_domain(ApiServices& services, Call& call) {
  auto app_name = app_name_of(call.body);
  const std::string name = app_name ? *app_name : "";
  return mutate(
      services, call, {"admin", "apps.customdomain.add", "app:" + name, "", ""},
      [&](store::Transaction& tx) -> Mutation<ApiResult> {
        if (!app_name) return Unexpected(app_name.error());
        auto raw = required_string(call.body, "customDomain");
        if (!raw) return Unexpected(raw.error());
        auto domain = apps::validate_domain(*raw);
        if (!domain) return refuse(ApiStatus::bad_name, domain.error().message);
        auto system = store::SystemStore().load(tx);
        if (!system) return Unexpected(MutationError(system.error()));
        const std::string& root = system->root_or(services.settings.root_domain);
        if (*domain == root || (domain->size() > root.size() && domain->ends_with("." + root) &&
                                *domain != name + "." + root)) {
          return refuse(ApiStatus::bad_name, "Custom domain cannot be subdomain of root domain.");
        }
        auto app = load_app(tx, name);
        if (!app) return Unexpected(app.error());
        // A domain routes to one app: refuse it if any app already has it.
        auto records = store::AppStore().list(tx);
        if (!records) return Unexpected(MutationError(records.error()));
        for (const auto& record : *records) {
          auto other = apps::from_json(record.definition);
          if (!other) continue;
          for (const auto& d : other->custom_domain) {
            if (d.public_domain == *domain) {
              return refuse(
                  ApiStatus::illegal_parameter,
                  "App already has customDomain: " + *domain + " attached to app " + record.name);
            }
          }
        }
        app->custom_domain.push_back({*domain, false});
        if (auto saved = save_app(tx, *app); !saved)
          return Unexpected(MutationError(saved.error()));
        return ok("Custom domain is enabled for: " + name + " at " + *domain);
      });
}

ApiResult remove_custom_domain(ApiServices& services, Call& call) {
  auto app_name = app_name_of(call.body);
  const std::string name = app_name ? *app_name : "";
  return mutate(services, call, {"admin", "apps.customdomain.remove", "app:" + name, "", ""},
                [&](store::Transaction& tx) -> Mutation<ApiResult> {
                  if (!app_name) return Unexpected(app_name.error());
                  auto raw = required_string(call.body, "customDomain");
                  if (!raw) return Unexpected(raw.error());
                  std::string domain = *raw;
                  std::transform(domain.begin(), domain.end(), domain.begin(), [](unsigned char c) {
                    return static_cast<char>(std::tolower(c));
                  });
                  auto app = load_app(tx, name);
                  if (!app) return Unexpected(app.error());
                  auto& domains = app->custom_domain;
                  const auto it = std::find_if(domains.begin(), domains.end(), [&](const auto& d) {
                    return d.public_domain == domain;
                  });
                  if (it == domains.end()) {
                    return refuse(ApiStatus::not_found,
                                  "Custom domain " + domain + " does not exist in " + name);
                  }
                  domains.erase(it);
                  if (domains.empty()) app->force_ssl = false;  // nothing left to force SSL on
                  if (auto saved = save_app(tx, *app); !saved) {
                    return Unexpected(MutationError(saved.error()));
                  }
                  return ok("Custom domain is removed for: " + name + " at " + domain);
                });
}

}  // namespace

void register_app_routes(ApiRouter& router, ApiServices& services) {
  const std::string base = "/user/apps/appDefinitions";
  router.get(base, base, [&services](Call& call) { return list_apps(services, call); });
  router.post(base + "/register", base + "/register",
              [&services](Call& call) { return register_app(services, call); });
  router.post(base + "/update", base + "/update",
              [&services](Call& call) { return update_app(services, call); });
  router.post(base + "/delete", base + "/delete",
              [&services](Call& call) { return delete_apps(services, call); });
  router.post(base + "/customdomain", base + "/customdomain",
              [&services](Call& call) { return add_custom_domain(services, call); });
  router.post(base + "/removecustomdomain", base + "/removecustomdomain",
              [&services](Call& call) { return remove_custom_domain(services, call); });
}

}  // namespace captain::api
