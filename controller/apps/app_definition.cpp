#include "controller/apps/app_definition.h"

#include <cstdint>
#include <limits>
#include <utility>

namespace captain::apps {
namespace {

using nlohmann::json;

json env_vars_json(const std::vector<EnvVar>& env_vars) {
  json out = json::array();
  for (const auto& e : env_vars) out.push_back({{"key", e.key}, {"value", e.value}});
  return out;
}

json volumes_json(const std::vector<Volume>& volumes) {
  json out = json::array();
  for (const auto& v : volumes) {
    json item = {{"containerPath", v.container_path}};
    if (v.volume_name) item["volumeName"] = *v.volume_name;
    if (v.host_path) item["hostPath"] = *v.host_path;
    out.push_back(std::move(item));
  }
  return out;
}

json ports_json(const std::vector<PortMapping>& ports) {
  json out = json::array();
  for (const auto& p : ports) {
    out.push_back({{"containerPort", p.container_port}, {"hostPort", p.host_port}});
  }
  return out;
}

json domains_json(const std::vector<CustomDomain>& domains) {
  json out = json::array();
  for (const auto& d : domains) {
    out.push_back({{"publicDomain", d.public_domain}, {"hasSsl", d.has_ssl}});
  }
  return out;
}

json tags_json(const std::vector<std::string>& tags) {
  json out = json::array();
  for (const auto& t : tags) out.push_back({{"tagName", t}});
  return out;
}

json push_webhook_json(const PushWebhook& hook) {
  const RepoInfo& r = hook.repo_info;
  return {{"tokenVersion", hook.token_version},
          {"pushWebhookToken", hook.push_webhook_token},
          {"repoInfo",
           {{"repo", r.repo},
            {"branch", r.branch},
            {"user", r.user},
            {"password", r.password},
            {"sshKey", r.ssh_key}}}};
}

// CapRover's shape: the token only while enabled.
json deploy_token_json(const AppDefinition& app) {
  json out = {{"enabled", app.deploy_token_enabled}};
  if (app.deploy_token_enabled) out["appDeployToken"] = app.deploy_token;
  return out;
}

// CapRover's version entry; `with_image_name` adds our requested image for storage.
json versions_json(const std::vector<AppVersion>& versions, bool with_image_name) {
  json out = json::array();
  for (const auto& v : versions) {
    json item = {{"version", v.version}, {"timeStamp", v.time_stamp}};
    // CapRover shows deployedImageName and gitHash together once the build has finished; the
    // storage form keeps the hash from the upload on.
    if (v.deployed_image_name) item["deployedImageName"] = *v.deployed_image_name;
    if (v.deployed_image_name || with_image_name) item["gitHash"] = v.git_hash;
    if (with_image_name) item["imageName"] = v.image_name;
    out.push_back(std::move(item));
  }
  return out;
}

// The fields both renderings share, under CapRover's names.
json common_json(const AppDefinition& app, bool for_storage) {
  return {
      {"appName", app.app_name},
      {"description", app.description},
      {"instanceCount", app.instance_count},
      {"captainDefinitionRelativeFilePath", app.captain_definition_relative_file_path},
      {"envVars", env_vars_json(app.env_vars)},
      {"volumes", volumes_json(app.volumes)},
      {"ports", ports_json(app.ports)},
      {"containerHttpPort", app.container_http_port},
      {"customDomain", domains_json(app.custom_domain)},
      {"hasDefaultSubDomainSsl", app.has_default_sub_domain_ssl},
      {"forceSsl", app.force_ssl},
      {"websocketSupport", app.websocket_support},
      {"notExposeAsWebApp", app.not_expose_as_web_app},
      {"hasPersistentData", app.has_persistent_data},
      {"versions", versions_json(app.versions, for_storage)},
      {"deployedVersion", app.deployed_version},
      {"nodeId", app.node_id},
      {"tags", tags_json(app.tags)},
  };
}

// An integral JSON number that fits an int; floats (even 3.0) and out-of-range values do not.
std::optional<int> as_int(const json& v) {
  if (v.is_number_unsigned()) {
    auto n = v.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) return std::nullopt;
    return static_cast<int>(n);
  }
  if (v.is_number_integer()) {
    auto n = v.get<std::int64_t>();
    if (n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) {
      return std::nullopt;
    }
    return static_cast<int>(n);
  }
  return std::nullopt;
}

// Reads typed fields out of a stored object, remembering the first problem instead of letting
// nlohmann throw.
class FieldReader {
 public:
  FieldReader(const json& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& key, const char* expected) {
    if (ok()) error_ = prefix_ + key + " must be " + expected;
  }

  // Each reader leaves `out` alone when the key is missing or null.
  void read(const char* key, std::string& out) {
    if (const json* v = find(key)) {
      if (v->is_string()) {
        out = v->get<std::string>();
      } else {
        fail(key, "a string");
      }
    }
  }
  void read(const char* key, std::optional<std::string>& out) {
    if (const json* v = find(key)) {
      if (v->is_string()) {
        out = v->get<std::string>();
      } else {
        fail(key, "a string");
      }
    }
  }
  void read(const char* key, bool& out) {
    if (const json* v = find(key)) {
      if (v->is_boolean()) {
        out = v->get<bool>();
      } else {
        fail(key, "a boolean");
      }
    }
  }
  void read(const char* key, int& out) {
    if (const json* v = find(key)) {
      if (auto n = as_int(*v)) {
        out = *n;
      } else {
        fail(key, "an integer");
      }
    }
  }
  // Calls `read_fields(reader)` for an object field.
  template <class F>
  void each_object(const char* key, F&& read_fields) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_object()) return fail(key, "an object");
    FieldReader inner(*v, prefix_ + key + ".");
    read_fields(inner);
    if (!inner.ok() && ok()) error_ = inner.error();
  }
  // Calls `each(element, reader)` for every object in an array field.
  template <class F>
  void each(const char* key, F&& each_element) {
    const json* v = find(key);
    if (!v) return;
    if (!v->is_array()) return fail(key, "an array");
    for (std::size_t i = 0; i < v->size() && ok(); ++i) {
      const json& element = (*v)[i];
      std::string name = std::string(key) + "[" + std::to_string(i) + "]";
      if (!element.is_object()) return fail(name, "an object");
      FieldReader inner(element, prefix_ + name + ".");
      each_element(inner);
      if (!inner.ok()) error_ = inner.error();
    }
  }

 private:
  const json* find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  const json& object_;
  std::string prefix_;
  std::string error_;
};

}  // namespace

AppDefinition make_app_definition(std::string app_name, bool has_persistent_data) {
  AppDefinition app;
  app.app_name = std::move(app_name);
  app.has_persistent_data = has_persistent_data;
  return app;
}

nlohmann::json to_caprover_json(const AppDefinition& app, bool is_app_building) {
  json out = common_json(app, false);
  // CapRover's values for features Tyaprover does not implement, so clients see "unset" rather
  // than a missing field. appPushWebhook and httpAuth are undefined in CapRover when unset, so
  // they are absent here too.
  out["projectId"] = "";
  out["networks"] = json::array({kCaptainOverlayNetwork});
  out["redirectDomain"] = "";
  out["customNginxConfig"] = app.custom_nginx_config;
  out["preDeployFunction"] = "";
  out["serviceUpdateOverride"] = "";
  out["appDeployTokenConfig"] = deploy_token_json(app);
  if (app.push_webhook) out["appPushWebhook"] = push_webhook_json(*app.push_webhook);
  // Added by CapRover's list handler rather than stored.
  out["isAppBuilding"] = is_app_building;
  out["isLegacyAppName"] = false;
  return out;
}

nlohmann::json to_json(const AppDefinition& app) {
  json out = common_json(app, true);
  out["rateLimit"] = app.rate_limit ? json(*app.rate_limit) : json(nullptr);
  out["cache"] = app.cache;
  out["headerPolicy"] = app.header_policy;
  out["customNginxConfig"] = app.custom_nginx_config;
  out["appDeployTokenConfig"] = deploy_token_json(app);
  if (app.push_webhook) out["appPushWebhook"] = push_webhook_json(*app.push_webhook);
  return out;
}

Expected<AppDefinition, std::string> from_json(const nlohmann::json& stored) {
  if (!stored.is_object()) return Unexpected(std::string("app definition must be a JSON object"));
  AppDefinition app;
  FieldReader r(stored, "");
  r.read("appName", app.app_name);
  r.read("description", app.description);
  r.read("instanceCount", app.instance_count);
  r.read("captainDefinitionRelativeFilePath", app.captain_definition_relative_file_path);
  r.each("envVars", [&](FieldReader& e) {
    EnvVar v;
    e.read("key", v.key);
    e.read("value", v.value);
    app.env_vars.push_back(std::move(v));
  });
  r.each("volumes", [&](FieldReader& e) {
    Volume v;
    e.read("containerPath", v.container_path);
    e.read("volumeName", v.volume_name);
    e.read("hostPath", v.host_path);
    app.volumes.push_back(std::move(v));
  });
  r.each("ports", [&](FieldReader& e) {
    PortMapping p;
    e.read("containerPort", p.container_port);
    e.read("hostPort", p.host_port);
    app.ports.push_back(p);
  });
  r.read("containerHttpPort", app.container_http_port);
  r.each("customDomain", [&](FieldReader& e) {
    CustomDomain d;
    e.read("publicDomain", d.public_domain);
    e.read("hasSsl", d.has_ssl);
    app.custom_domain.push_back(std::move(d));
  });
  r.read("hasDefaultSubDomainSsl", app.has_default_sub_domain_ssl);
  r.read("forceSsl", app.force_ssl);
  r.read("websocketSupport", app.websocket_support);
  r.read("notExposeAsWebApp", app.not_expose_as_web_app);
  r.read("hasPersistentData", app.has_persistent_data);
  r.each("versions", [&](FieldReader& e) {
    AppVersion v;
    e.read("version", v.version);
    e.read("imageName", v.image_name);
    e.read("timeStamp", v.time_stamp);
    e.read("deployedImageName", v.deployed_image_name);
    e.read("gitHash", v.git_hash);
    app.versions.push_back(std::move(v));
  });
  r.read("deployedVersion", app.deployed_version);
  r.read("nodeId", app.node_id);
  r.each("tags", [&](FieldReader& e) {
    std::string tag;
    e.read("tagName", tag);
    app.tags.push_back(std::move(tag));
  });
  r.read("rateLimit", app.rate_limit);
  r.read("cache", app.cache);
  r.read("headerPolicy", app.header_policy);
  r.read("customNginxConfig", app.custom_nginx_config);
  r.each_object("appDeployTokenConfig", [&](FieldReader& e) {
    e.read("enabled", app.deploy_token_enabled);
    e.read("appDeployToken", app.deploy_token);
  });
  // The model keeps no token while disabled and to_json writes none: a stored or imported
  // definition with a token but "enabled": false would otherwise read back as a state the model
  // never makes, and lose the token only at its next write.
  if (!app.deploy_token_enabled) app.deploy_token.clear();
  r.each_object("appPushWebhook", [&](FieldReader& e) {
    PushWebhook hook;
    e.read("tokenVersion", hook.token_version);
    e.read("pushWebhookToken", hook.push_webhook_token);
    e.each_object("repoInfo", [&](FieldReader& repo) {
      repo.read("repo", hook.repo_info.repo);
      repo.read("branch", hook.repo_info.branch);
      repo.read("user", hook.repo_info.user);
      repo.read("password", hook.repo_info.password);
      repo.read("sshKey", hook.repo_info.ssh_key);
    });
    app.push_webhook = std::move(hook);
  });
  if (!r.ok()) return Unexpected(r.error());
  return app;
}

Expected<AppDefinition, std::string> from_json_text(const std::string& text) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Unexpected(std::string("app definition is not valid JSON"));
  return from_json(parsed);
}

}  // namespace captain::apps
