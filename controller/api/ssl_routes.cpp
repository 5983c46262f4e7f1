#include "controller/api/ssl_routes.h"

#include <algorithm>

#include "controller/api/mutation.h"
#include "controller/api/stored_app.h"
#include "controller/apps/validation.h"
#include "controller/store/app_store.h"
#include "controller/store/system_store.h"
#include "shared/validation/domain.h"

namespace captain::api {
namespace {

// CapRover's words.
constexpr const char* kFirstEnableRootSsl = "You have to first enable SSL for your root domain";

// A refusal decided outside a transaction, audited like mutate() audits its own.
ApiResult refused(ApiServices& services, const Call& call, audit::AuditEntry entry,
                  ApiResult result) {
  entry.result = "error:" + std::to_string(static_cast<int>(result.status));
  entry.detail = result.description;
  services.audit.record_alone(call.context, entry);
  return result;
}

ApiResult acme_refusal(const acme::AcmeError& error, const std::string& domain) {
  const ApiStatus status = error.kind == acme::AcmeError::Kind::failed
                               ? ApiStatus::generic_error
                               : ApiStatus::verification_failed;
  std::string hint;
  if (error.kind == acme::AcmeError::Kind::refused) {
    hint = " Check that " + domain + " resolves to this server and that port 80 reaches nginx.";
  } else if (error.kind == acme::AcmeError::Kind::unreachable) {
    hint = " Nothing was changed; try again once the CA is reachable.";
  }
  std::string message = error.message;
  if (!message.empty() && message.back() != '.') message += '.';
  return failure(status, "Verification Failed for " + domain + ": " + message + hint);
}

// What every SSL call needs to know before it talks to the CA, read in one transaction.
struct Before {
  store::SystemState system;
  std::string root;
  std::optional<apps::AppDefinition> app;
};

Mutation<Before> read_before(ApiServices& services, const std::string* app_name) {
  return services.db.read([&](store::Transaction& tx) -> Mutation<Before> {
    auto system = store::SystemStore().load(tx);
    if (!system) return Unexpected(MutationError(system.error()));
    Before before{*system, system->root_or(services.settings.root_domain), std::nullopt};
    if (app_name != nullptr) {
      auto app = load_app(tx, *app_name);
      if (!app) return Unexpected(app.error());
      before.app = *app;
    }
    return before;
  });
}

ApiResult as_result(ApiServices& services, const Call& call, const MutationError& error) {
  return error.store ? store_failure(services, *error.store, call.context.request_id)
                     : error.refusal;
}

// The e-mail of the ACME account: enablessl's, else the acme_email setting.
std::optional<std::string> account_email(ApiServices& services, const store::SystemState& s) {
  if (s.acme_email) return s.acme_email;
  return services.settings.acme_email;
}

// After a committed change: nginx serves it before the call answers (the CLI goes to
// https://captain.<root> right after enablessl).
void apply_now(ApiServices& services, const Call& call) {
  if (!services.nginx_apply_now) return;
  if (auto problem = services.nginx_apply_now()) {
    services.log.error("nginx did not take the change yet; it is retried",
                       {{"error", *problem}, {"request_id", call.context.request_id}});
  }
}

// Sets a flag on the app (or a custom domain of it) once its certificate is issued.
ApiResult enable_app_ssl(ApiServices& services, Call& call, bool custom) {
  auto name = required_string(call.body, "appName");
  const std::string app_name = name ? *name : "";
  audit::AuditEntry entry{"admin", custom ? "apps.ssl.customdomain" : "apps.ssl.enable",
                          "app:" + app_name, "", ""};
  if (!name) return refused(services, call, entry, name.error().refusal);
  std::string domain;
  if (custom) {
    auto raw = required_string(call.body, "customDomain");
    if (!raw) return refused(services, call, entry, raw.error().refusal);
    domain = validation::lowercase_ascii(*raw);
    entry.resource += ",domain:" + domain;
  }
  auto before = read_before(services, &app_name);
  if (!before) return refused(services, call, entry, as_result(services, call, before.error()));
  if (!before->system.has_root_ssl) {
    return refused(services, call, entry, failure(ApiStatus::generic_error, kFirstEnableRootSsl));
  }
  const apps::AppDefinition& app = *before->app;
  if (custom) {
    const bool attached = std::any_of(app.custom_domain.begin(), app.custom_domain.end(),
                                      [&](const auto& d) { return d.public_domain == domain; });
    if (!attached) {
      return refused(services, call, entry,
                     failure(ApiStatus::illegal_parameter,
                             "customDomain " + domain + " is not attached to app " + app_name));
    }
  } else {
    domain = app_name + "." + before->root;
  }
  if (app.not_expose_as_web_app) {
    return refused(services, call, entry,
                   failure(ApiStatus::illegal_operation,
                           "App " + app_name +
                               " is not exposed as a web app: it has no server to serve HTTPS"));
  }
  const auto email = account_email(services, before->system);
  if (!services.obtain_certificate || !email) {
    return refused(services, call, entry,
                   failure(ApiStatus::generic_error,
                           !email ? "No ACME account e-mail: enable SSL for the root domain "
                                    "first (POST /user/system/enablessl)"
                                  : "HTTPS needs nginx managed by the controller (nginx_reload)"));
  }
  // The challenge is answered by the name's own server: nginx must serve what is committed
  // (a custom domain added a moment ago) before the CA asks.
  apply_now(services, call);
  if (auto issued = services.obtain_certificate(domain, *email); !issued) {
    return refused(services, call, entry, acme_refusal(issued.error(), domain));
  }
  ApiResult result =
      mutate(services, call, entry, [&](store::Transaction& tx) -> Mutation<ApiResult> {
        auto current = load_app(tx, app_name);
        if (!current) return Unexpected(current.error());
        if (custom) {
          auto it = std::find_if(current->custom_domain.begin(), current->custom_domain.end(),
                                 [&](const auto& d) { return d.public_domain == domain; });
          if (it == current->custom_domain.end()) {
            return refuse(ApiStatus::illegal_parameter,
                          "customDomain " + domain + " is not attached to app " + app_name);
          }
          it->has_ssl = true;
        } else {
          current->has_default_sub_domain_ssl = true;
        }
        if (auto saved = save_app(tx, *current); !saved) {
          return Unexpected(MutationError(saved.error()));
        }
        return ok(custom ? "Custom domain SSL is enabled for: " + app_name + " at " + domain + " "
                         : "General SSL is enabled for: " + app_name);
      });
  if (result.succeeded()) apply_now(services, call);
  return result;
}

ApiResult enable_root_ssl(ApiServices& services, Call& call) {
  audit::AuditEntry entry{"admin", "system.ssl.enable", "captain", "", ""};
  auto it = call.body.find("emailAddress");
  const std::string email = it != call.body.end() && it->is_string() ? it->get<std::string>() : "";
  if (!config::check_email(email)) {
    return refused(services, call, entry, failure(ApiStatus::generic_error, "Bad email address."));
  }
  auto before = read_before(services, nullptr);
  if (!before) return refused(services, call, entry, as_result(services, call, before.error()));
  const std::string domain = "captain." + before->root;
  entry.resource = "domain:" + domain;
  if (!services.obtain_certificate) {
    return refused(services, call, entry,
                   failure(ApiStatus::generic_error,
                           "HTTPS needs nginx managed by the controller (nginx_reload)"));
  }
  apply_now(services, call);
  if (auto issued = services.obtain_certificate(domain, email); !issued) {
    return refused(services, call, entry, acme_refusal(issued.error(), domain));
  }
  ApiResult result =
      mutate(services, call, entry, [&](store::Transaction& tx) -> Mutation<ApiResult> {
        store::SystemStore systems;
        auto system = systems.load(tx);
        if (!system) return Unexpected(MutationError(system.error()));
        if (system->root_or(services.settings.root_domain) != before->root) {
          return refuse(ApiStatus::generic_error,
                        "The root domain changed meanwhile; enable SSL again");
        }
        system->acme_email = email;
        system->has_root_ssl = true;
        if (auto saved = systems.save(tx, *system); !saved) {
          return Unexpected(MutationError(saved.error()));
        }
        return ok("Root SSL Enabled.");
      });
  if (result.succeeded()) apply_now(services, call);
  return result;
}

bool truthy(const nlohmann::json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() != 0;
  if (it->is_string()) return !it->get_ref<const std::string&>().empty();
  return true;  // JavaScript's !!: objects and arrays are true
}

ApiResult force_ssl(ApiServices& services, Call& call) {
  const bool enable = truthy(call.body, "isEnabled");
  audit::AuditEntry entry{"admin", "system.ssl.force", "captain", "", ""};
  ApiResult result =
      mutate(services, call, entry, [&](store::Transaction& tx) -> Mutation<ApiResult> {
        store::SystemStore systems;
        auto system = systems.load(tx);
        if (!system) return Unexpected(MutationError(system.error()));
        if (enable && !system->has_root_ssl) {
          return refuse(ApiStatus::generic_error,
                        "You first need to enable SSL on the root domain before forcing it.");
        }
        system->force_ssl = enable;
        if (auto saved = systems.save(tx, *system); !saved) {
          return Unexpected(MutationError(saved.error()));
        }
        return ok(std::string("Non-SSL traffic is now ") + (enable ? "rejected." : "allowed."));
      });
  if (result.succeeded()) apply_now(services, call);
  return result;
}

ApiResult change_root_domain(ApiServices& services, Call& call) {
  auto it = call.body.find("rootDomain");
  std::string requested = validation::lowercase_ascii(
      it != call.body.end() && it->is_string() ? it->get<std::string>() : "");
  for (const char* scheme : {"https://", "http://"}) {
    if (requested.rfind(scheme, 0) == 0) requested = requested.substr(std::string(scheme).size());
  }
  const bool force = truthy(call.body, "force");
  audit::AuditEntry entry{"admin", "system.rootdomain.change", "domain:" + requested, "", ""};
  auto domain = apps::validate_domain(requested);
  // CapRover's status for a bad name here is 1000, with its words.
  if (requested.size() < 3 || !domain || !apps::validate_domain("captain." + requested)) {
    return refused(services, call, entry, failure(ApiStatus::generic_error, "Bad domain name."));
  }
  ApiResult result =
      mutate(services, call, entry, [&](store::Transaction& tx) -> Mutation<ApiResult> {
        store::SystemStore systems;
        auto system = systems.load(tx);
        if (!system) return Unexpected(MutationError(system.error()));
        const bool changes = system->root_or(services.settings.root_domain) != *domain;
        if (!force && system->has_root_ssl && changes) {
          return refuse(ApiStatus::generic_error,
                        "SSL is enabled for root. You can still force change the root domain, "
                        "but read docs for consequences!");
        }
        if (force) {
          // The certificates name the old domain: HTTPS starts over, as in CapRover.
          system->force_ssl = false;
          system->has_root_ssl = false;
          store::AppStore apps;
          auto records = apps.list(tx);
          if (!records) return Unexpected(MutationError(records.error()));
          for (const auto& record : *records) {
            auto app = apps::from_json(record.definition);
            if (!app) continue;
            if (!app->force_ssl && !app->has_default_sub_domain_ssl) continue;
            app->force_ssl = false;
            app->has_default_sub_domain_ssl = false;
            if (auto saved = save_app(tx, *app); !saved) {
              return Unexpected(MutationError(saved.error()));
            }
          }
        }
        system->root_domain = *domain;
        if (auto saved = systems.save(tx, *system); !saved) {
          return Unexpected(MutationError(saved.error()));
        }
        return ok("Root domain changed.");
      });
  if (result.succeeded()) apply_now(services, call);
  return result;
}

}  // namespace

void register_ssl_routes(ApiRouter& router, ApiServices& services) {
  // Slow lane: each waits for a certificate order or an nginx reload.
  const std::string apps = "/user/apps/appDefinitions";
  const auto slow = http::Lane::slow;
  router.post(
      apps + "/enablebasedomainssl", apps + "/enablebasedomainssl",
      [&services](Call& call) { return enable_app_ssl(services, call, false); }, slow);
  router.post(
      apps + "/enablecustomdomainssl", apps + "/enablecustomdomainssl",
      [&services](Call& call) { return enable_app_ssl(services, call, true); }, slow);
  router.post(
      "/user/system/enablessl", "/user/system/enablessl",
      [&services](Call& call) { return enable_root_ssl(services, call); }, slow);
  router.post(
      "/user/system/forcessl", "/user/system/forcessl",
      [&services](Call& call) { return force_ssl(services, call); }, slow);
  router.post(
      "/user/system/changerootdomain", "/user/system/changerootdomain",
      [&services](Call& call) { return change_root_domain(services, call); }, slow);
}

}  // namespace captain::api
