// One app's definition: CapRover's app definition fields plus Tyaprover's own (rate limit,
// cache, header policy), with the two JSON renderings it needs: CapRover's API shape and our
// storage shape.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controller/common/expected.h"

namespace captain::apps {

inline constexpr int kDefaultInstanceCount = 1;
inline constexpr int kDefaultContainerHttpPort = 80;
inline constexpr const char* kDefaultCaptainDefinitionPath = "./captain-definition";
// CapRover puts every app on this overlay network and reports it in `networks`.
inline constexpr const char* kCaptainOverlayNetwork = "captain-overlay-network";

struct EnvVar {
  std::string key;
  std::string value;
  friend bool operator==(const EnvVar&, const EnvVar&) = default;
};

// Exactly one of volume_name (a Docker named volume) and host_path (a bind mount) is set.
struct Volume {
  std::string container_path;
  std::optional<std::string> volume_name;
  std::optional<std::string> host_path;
  friend bool operator==(const Volume&, const Volume&) = default;
};

struct PortMapping {
  int container_port = 0;
  int host_port = 0;
  friend bool operator==(const PortMapping&, const PortMapping&) = default;
};

struct CustomDomain {
  std::string public_domain;  // lowercased
  bool has_ssl = false;
  friend bool operator==(const CustomDomain&, const CustomDomain&) = default;
};

// One deploy attempt. CapRover reports deployedImageName and gitHash only once the image is
// built; an unfinished version has neither.
struct AppVersion {
  int version = 0;
  std::string image_name;  // what was asked for (ours: CapRover does not report it)
  std::string time_stamp;  // ISO 8601, e.g. "2026-11-22T07:47:24.000Z"
  std::optional<std::string> deployed_image_name;
  std::string git_hash;
  friend bool operator==(const AppVersion&, const AppVersion&) = default;
};

// CapRover's appPushWebhook: a git repository whose pushes to `branch` are built and deployed
// (POST /user/apps/webhooks/triggerbuild?namespace=captain&token=<push_webhook_token>).
// Credentials: user + password for HTTPS, ssh_key for SSH, none for a public repository.
struct RepoInfo {
  std::string repo;
  std::string branch;
  std::string user;
  std::string password;
  std::string ssh_key;
  friend bool operator==(const RepoInfo&, const RepoInfo&) = default;
};

struct PushWebhook {
  RepoInfo repo_info;
  std::string token_version;       // a new one retires older tokens
  std::string push_webhook_token;  // filled by the API when empty
  friend bool operator==(const PushWebhook&, const PushWebhook&) = default;
};

struct AppDefinition {
  std::string app_name;
  int instance_count = kDefaultInstanceCount;
  std::string captain_definition_relative_file_path = kDefaultCaptainDefinitionPath;
  std::vector<EnvVar> env_vars;
  std::vector<Volume> volumes;
  std::vector<PortMapping> ports;
  int container_http_port = kDefaultContainerHttpPort;
  std::vector<CustomDomain> custom_domain;
  bool has_default_sub_domain_ssl = false;
  bool force_ssl = false;
  bool websocket_support = false;
  bool not_expose_as_web_app = false;
  bool has_persistent_data = false;
  std::string description;
  std::vector<AppVersion> versions;
  int deployed_version = 0;
  std::string node_id;
  std::vector<std::string> tags;  // CapRover's tagName values
  // CapRover's customNginxConfig. Ours is nginx text included inside the app's server block
  // (not CapRover's whole-server template); checked by nginx -t before it is stored.
  std::string custom_nginx_config;
  // CapRover's appDeployTokenConfig: a token (x-captain-app-token) that may deploy this app and
  // do nothing else. Empty while disabled; the API fills a random one when enabled without one.
  bool deploy_token_enabled = false;
  std::string deploy_token;
  std::optional<PushWebhook> push_webhook;

  // Ours. Empty rate_limit / header_policy mean "none" / "the default policy".
  std::optional<std::string> rate_limit;  // nginx-style rate, e.g. "10r/s"
  bool cache = false;
  std::string header_policy;

  friend bool operator==(const AppDefinition&, const AppDefinition&) = default;
};

// A fresh definition as CapRover's register creates it.
AppDefinition make_app_definition(std::string app_name, bool has_persistent_data);

// One element of `data.appDefinitions` in CapRover's GET /api/v2/user/apps/appDefinitions,
// field for field, so the caprover CLI and web UI read it unchanged. Fields CapRover has and
// Tyaprover does not implement (httpAuth, preDeployFunction, ...) carry
// CapRover's values for "unset"; our own fields are not included.
nlohmann::json to_caprover_json(const AppDefinition& app, bool is_app_building = false);

// The storage form: every field, ours included, under CapRover's names where there is one.
nlohmann::json to_json(const AppDefinition& app);

// Reads the storage form back. Missing fields take their defaults (older rows stay readable);
// a field of the wrong JSON type is an error naming it. Never throws.
Expected<AppDefinition, std::string> from_json(const nlohmann::json& stored);

// Parses storage text (JSON) and reads it with from_json. Never throws.
Expected<AppDefinition, std::string> from_json_text(const std::string& text);

}  // namespace captain::apps
