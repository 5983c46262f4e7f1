#include "controller/apps/validation.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

#include "shared/validation/app_name.h"
#include "shared/validation/domain.h"
#include "shared/validation/rate.h"

namespace captain::apps {
namespace {

using nlohmann::json;

// The message always starts with the field so a client can show it as is.
Unexpected<ValidationError> invalid(std::string_view field, std::string_view problem) {
  std::string name(field);
  return Unexpected(ValidationError{name, name + " " + std::string(problem)});
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || is_digit(c);
}
bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) noexcept {
  return is_alpha(c) || is_digit(c);
}
bool is_word(char c) noexcept {
  return is_alnum(c) || c == '_';
}
bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f');
}
bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool has_nul(std::string_view text) {
  return text.find('\0') != std::string_view::npos;
}

// An integral JSON number in [low, high]; floats never qualify, whatever their value.
bool integer_in_range(const json& value, std::int64_t low, std::int64_t high, int& out) {
  std::int64_t n = 0;
  if (value.is_number_unsigned()) {
    auto u = value.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(high)) return false;
    n = static_cast<std::int64_t>(u);
  } else if (value.is_number_integer()) {
    n = value.get<std::int64_t>();
  } else {
    return false;
  }
  if (n < low || n > high) return false;
  out = static_cast<int>(n);
  return true;
}

// ---- Docker image references (distribution/reference grammar) ----

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
bool is_path_component(std::string_view c) {
  std::size_t i = 0;
  auto alnum_run = [&] {
    std::size_t start = i;
    while (i < c.size() && is_lower_alnum(c[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < c.size()) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool is_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  for (char ch : c) {
    if (!is_alnum(ch) && ch != '-') return false;
  }
  return true;
}

// host[:port], host a dotted name, an IPv4 address (a dotted name too) or [IPv6].
bool is_registry_host(std::string_view host) {
  std::string_view name = host;
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char ch : host.substr(1, close - 1)) {
      if (!is_digit(ch) && !(ch >= 'a' && ch <= 'f') && !(ch >= 'A' && ch <= 'F') && ch != ':') {
        return false;
      }
    }
    name = {};
    host.remove_prefix(close + 1);
  } else {
    std::size_t colon = host.find(':');
    name = host.substr(0, colon);
    host = colon == std::string_view::npos ? std::string_view{} : host.substr(colon);
    while (true) {
      std::size_t dot = name.find('.');
      if (!is_domain_component(name.substr(0, dot))) return false;
      if (dot == std::string_view::npos) break;
      name.remove_prefix(dot + 1);
    }
  }
  if (host.empty()) return true;  // no port
  if (host.front() != ':' || host.size() < 2 || host.size() > 6) return false;
  for (char ch : host.substr(1)) {
    if (!is_digit(ch)) return false;
  }
  return true;
}

// tag := [\w][\w.-]{0,127}
bool is_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxImageTagLength || !is_word(tag.front())) return false;
  for (char ch : tag) {
    if (!is_word(ch) && ch != '.' && ch != '-') return false;
  }
  return true;
}

// Docker treats the first component as a registry only when it looks like a host: it has a dot
// or a port, or is "localhost", or has capitals (which a repository path may not).
bool looks_like_registry(std::string_view first) {
  if (first == "localhost") return true;
  for (char ch : first) {
    if (ch == '.' || ch == ':' || (ch >= 'A' && ch <= 'Z') || ch == '[') return true;
  }
  return false;
}

// ---- small field readers for the update body ----

// Each returns the error, or nullopt after storing the value; nullopt also when `value` is null
// (the field keeps its current value).
using Problem = std::optional<ValidationError>;

Problem read_bool(const json& value, std::string_view field, bool& out) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_boolean()) return invalid(field, "must be true or false").error();
  out = value.get<bool>();
  return std::nullopt;
}

Problem read_string(const json& value, std::string_view field, std::size_t max_length,
                    std::string& out) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_string()) return invalid(field, "must be a string").error();
  const auto& text = value.get_ref<const std::string&>();
  if (text.size() > max_length) {
    return invalid(field, "must be at most " + std::to_string(max_length) + " bytes long").error();
  }
  if (has_nul(text)) return invalid(field, "must not contain NUL characters").error();
  out = text;
  return std::nullopt;
}

std::string indexed(std::string_view field, std::size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

// Common shape checks for the list fields: an array of objects, at most `max` long.
Problem check_object_array(const json& value, std::string_view field, std::size_t max) {
  if (!value.is_array()) return invalid(field, "must be an array").error();
  if (value.size() > max) {
    return invalid(field, "must have at most " + std::to_string(max) + " entries").error();
  }
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_object()) return invalid(indexed(field, i), "must be an object").error();
  }
  return std::nullopt;
}

// The member `key` of `object` if present and not null.
const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string member; missing or null reads as "".
Problem member_string(const json& object, const char* key, std::string_view owner,
                      std::string& out) {
  out.clear();
  const json* v = member(object, key);
  if (!v) return std::nullopt;
  std::string field = std::string(owner) + "." + key;
  if (!v->is_string()) return invalid(field, "must be a string").error();
  out = v->get<std::string>();
  return std::nullopt;
}

Problem read_env_vars(const json& value, std::vector<EnvVar>& out) {
  if (value.is_null()) return std::nullopt;
  if (auto p = check_object_array(value, "envVars", kMaxEnvVars)) return p;
  std::vector<EnvVar> env_vars;
  std::set<std::string> keys;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string name = indexed("envVars", i);
    std::string key, val;
    if (auto p = member_string(value[i], "key", name, key)) return p;
    if (auto p = member_string(value[i], "value", name, val)) return p;
    // CapRover drops rows the UI leaves blank.
    if (trim(key).empty() && val.empty()) continue;
    auto env = validate_env_var(key, val, name);
    if (!env) return env.error();
    if (!keys.insert(env->key).second) {
      return invalid(name + ".key", "\"" + env->key + "\" is set more than once").error();
    }
    env_vars.push_back(std::move(*env));
  }
  out = std::move(env_vars);
  return std::nullopt;
}

Problem read_volumes(const json& value, std::vector<Volume>& out) {
  if (value.is_null()) return std::nullopt;
  if (auto p = check_object_array(value, "volumes", kMaxListLength)) return p;
  std::vector<Volume> volumes;
  std::set<std::string> mount_points;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string name = indexed("volumes", i);
    std::string container_path, volume_name, host_path;
    if (auto p = member_string(value[i], "containerPath", name, container_path)) return p;
    if (auto p = member_string(value[i], "volumeName", name, volume_name)) return p;
    if (auto p = member_string(value[i], "hostPath", name, host_path)) return p;
    // Trimmed like CapRover does; a row left entirely blank is dropped.
    std::string_view cp = trim(container_path), vn = trim(volume_name), hp = trim(host_path);
    if (cp.empty() && vn.empty() && hp.empty()) continue;

    Volume volume;
    auto path = validate_absolute_path(cp, name + ".containerPath");
    if (!path) return path.error();
    volume.container_path = std::move(*path);
    if (!vn.empty() && !hp.empty()) {
      return invalid(name, "must have either volumeName or hostPath, not both").error();
    }
    if (vn.empty() && hp.empty()) {
      return invalid(name, "needs a volumeName or a hostPath").error();
    }
    if (!hp.empty()) {
      auto host = validate_absolute_path(hp, name + ".hostPath");
      if (!host) return host.error();
      volume.host_path = std::move(*host);
    } else {
      auto volume_name_ok = validate_volume_name(vn, name + ".volumeName");
      if (!volume_name_ok) return volume_name_ok.error();
      volume.volume_name = std::move(*volume_name_ok);
    }
    // Docker refuses a service with two mounts on one path; say so before it does.
    if (!mount_points.insert(volume.container_path).second) {
      return invalid(name + ".containerPath",
                     "\"" + volume.container_path + "\" is mounted more than once")
          .error();
    }
    volumes.push_back(std::move(volume));
  }
  out = std::move(volumes);
  return std::nullopt;
}

Problem read_ports(const json& value, std::vector<PortMapping>& out) {
  if (value.is_null()) return std::nullopt;
  if (auto p = check_object_array(value, "ports", kMaxListLength)) return p;
  std::vector<PortMapping> ports;
  std::set<int> host_ports;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string name = indexed("ports", i);
    const json* container = member(value[i], "containerPort");
    const json* host = member(value[i], "hostPort");
    // CapRover drops rows the UI leaves blank.
    if (!container && !host) continue;
    if (!container) return invalid(name + ".containerPort", "is missing").error();
    if (!host) return invalid(name + ".hostPort", "is missing").error();
    auto c = validate_port(*container, name + ".containerPort");
    if (!c) return c.error();
    auto h = validate_port(*host, name + ".hostPort");
    if (!h) return h.error();
    if (!host_ports.insert(*h).second) {
      return invalid(name + ".hostPort", std::to_string(*h) + " is published more than once")
          .error();
    }
    ports.push_back({*c, *h});
  }
  out = std::move(ports);
  return std::nullopt;
}

Problem read_tags(const json& value, std::vector<std::string>& out) {
  if (value.is_null()) return std::nullopt;
  if (auto p = check_object_array(value, "tags", kMaxListLength)) return p;
  std::vector<std::string> tags;
  for (std::size_t i = 0; i < value.size(); ++i) {
    std::string name = indexed("tags", i) + ".tagName";
    std::string tag;
    if (auto p = member_string(value[i], "tagName", indexed("tags", i), tag)) return p;
    // Tags are labels for grouping in the UI: keep them short and printable.
    if (tag.empty() || tag.size() > kMaxTagNameLength) {
      return invalid(name, "must be 1 to " + std::to_string(kMaxTagNameLength) + " bytes long")
          .error();
    }
    for (unsigned char ch : tag) {
      if (ch < 0x20 || ch == 0x7f)
        return invalid(name, "must not contain control characters").error();
    }
    tags.push_back(std::move(tag));
  }
  out = std::move(tags);
  return std::nullopt;
}

// A path relative to the source tree: no NUL and no ".." segment that could leave it.
Problem read_definition_path(const json& value, std::string& out) {
  constexpr std::string_view kField = "captainDefinitionRelativeFilePath";
  std::string path;
  if (auto p = read_string(value, kField, kMaxPathLength, path)) return p;
  if (value.is_null()) return std::nullopt;
  if (path.empty()) {
    // CapRover backfills an empty path with the default.
    out = kDefaultCaptainDefinitionPath;
    return std::nullopt;
  }
  std::string_view rest = path;
  while (true) {
    std::size_t slash = rest.find('/');
    if (rest.substr(0, slash) == "..") {
      return invalid(kField, "must not contain \"..\" segments").error();
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  out = std::move(path);
  return std::nullopt;
}

// Docker node ids are short alphanumeric strings; "" means any node.
Problem read_node_id(const json& value, std::string& out) {
  std::string id;
  if (auto p = read_string(value, "nodeId", 64, id)) return p;
  if (value.is_null()) return std::nullopt;
  for (char ch : id) {
    if (!is_alnum(ch)) return invalid("nodeId", "may contain only letters and digits").error();
  }
  out = std::move(id);
  return std::nullopt;
}

// A header policy is named, not spelled out: "" means the default policy.
Problem read_header_policy(const json& value, std::string& out) {
  std::string name;
  if (auto p = read_string(value, "headerPolicy", 64, name)) return p;
  if (value.is_null()) return std::nullopt;
  for (char ch : name) {
    if (!is_lower_alnum(ch) && ch != '-' && ch != '_') {
      return invalid("headerPolicy", "may contain only lowercase letters, digits, '-' and '_'")
          .error();
    }
  }
  out = std::move(name);
  return std::nullopt;
}

// "" clears the limit; null, like every other field, keeps it.
Problem read_rate_limit(const json& value, std::optional<std::string>& out) {
  if (value.is_null()) return std::nullopt;
  if (!value.is_string()) return invalid("rateLimit", "must be a string such as \"10r/s\"").error();
  const auto& text = value.get_ref<const std::string&>();
  if (text.empty()) {
    out.reset();
    return std::nullopt;
  }
  auto rate = validate_rate_limit(text);
  if (!rate) return rate.error();
  out = std::move(*rate);
  return std::nullopt;
}

}  // namespace

Validated<std::string> validate_app_name(std::string_view name) {
  std::string problem = validation::app_name_problem(name);
  if (!problem.empty()) return invalid("appName", problem);
  return std::string(name);
}

Validated<int> validate_instance_count(const json& value) {
  int count = 0;
  if (!integer_in_range(value, 0, kMaxInstanceCount, count)) {
    return invalid("instanceCount",
                   "must be an integer from 0 to " + std::to_string(kMaxInstanceCount));
  }
  return count;
}

Validated<EnvVar> validate_env_var(std::string_view key, std::string_view value,
                                   std::string_view field) {
  std::string key_field = std::string(field) + ".key";
  std::string value_field = std::string(field) + ".value";
  key = trim(key);
  if (key.empty()) return invalid(key_field, "must not be empty");
  if (key.size() > kMaxEnvKeyLength) {
    return invalid(key_field,
                   "must be at most " + std::to_string(kMaxEnvKeyLength) + " bytes long");
  }
  if (!is_alpha(key.front()) && key.front() != '_') {
    return invalid(key_field, "must start with a letter or '_'");
  }
  for (char ch : key) {
    if (!is_word(ch)) return invalid(key_field, "may contain only letters, digits and '_'");
  }
  if (value.size() > kMaxEnvValueLength) {
    return invalid(value_field,
                   "must be at most " + std::to_string(kMaxEnvValueLength) + " bytes long");
  }
  if (has_nul(value)) return invalid(value_field, "must not contain NUL characters");
  return EnvVar{std::string(key), std::string(value)};
}

Validated<std::string> validate_image_reference(std::string_view reference) {
  constexpr std::string_view kField = "imageName";
  if (reference.empty()) return invalid(kField, "must not be empty");
  std::string_view rest = reference;

  if (std::size_t at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    constexpr std::string_view kSha256 = "sha256:";
    bool ok = digest.size() == kSha256.size() + 64 && digest.substr(0, kSha256.size()) == kSha256;
    for (std::size_t i = kSha256.size(); ok && i < digest.size(); ++i) ok = is_hex(digest[i]);
    if (!ok) return invalid(kField, "has an invalid digest (expected @sha256:<64 lowercase hex>)");
    rest = rest.substr(0, at);
  }

  // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
  std::size_t last_slash = rest.rfind('/');
  std::size_t colon = rest.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) {
    if (!is_tag(rest.substr(colon + 1))) {
      return invalid(kField, "has an invalid tag (expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
    }
    rest = rest.substr(0, colon);
  }

  if (rest.empty()) return invalid(kField, "has no repository name");
  if (rest.size() > kMaxImageNameLength) {
    return invalid(kField, "has a repository name longer than " +
                               std::to_string(kMaxImageNameLength) + " characters");
  }

  std::size_t first_slash = rest.find('/');
  if (first_slash != std::string_view::npos && looks_like_registry(rest.substr(0, first_slash))) {
    if (!is_registry_host(rest.substr(0, first_slash))) {
      return invalid(kField, "has an invalid registry host");
    }
    rest.remove_prefix(first_slash + 1);
  }
  while (true) {
    std::size_t slash = rest.find('/');
    if (!is_path_component(rest.substr(0, slash))) {
      return invalid(kField,
                     "has an invalid repository path (lowercase letters and digits, separated "
                     "by '.', '_', '__' or '-', components joined by '/')");
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return std::string(reference);
}

Validated<std::string> validate_domain(std::string_view domain, std::string_view field) {
  std::string lower = validation::lowercase_ascii(domain);
  std::string problem = validation::domain_problem(lower);
  if (!problem.empty()) return invalid(field, problem);
  return lower;
}

Validated<int> validate_port(const json& value, std::string_view field) {
  int port = 0;
  if (!integer_in_range(value, 1, kMaxPort, port)) {
    return invalid(field, "must be an integer from 1 to " + std::to_string(kMaxPort));
  }
  return port;
}

Validated<std::string> validate_absolute_path(std::string_view path, std::string_view field) {
  if (path.empty()) return invalid(field, "must not be empty");
  if (path.size() > kMaxPathLength) {
    return invalid(field, "must be at most " + std::to_string(kMaxPathLength) + " bytes long");
  }
  if (has_nul(path)) return invalid(field, "must not contain NUL characters");
  if (path.front() != '/') return invalid(field, "must be an absolute path (start with '/')");
  std::string_view rest = path.substr(1);
  while (true) {
    std::size_t slash = rest.find('/');
    if (rest.substr(0, slash) == "..") return invalid(field, "must not contain \"..\" segments");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return std::string(path);
}

Validated<std::string> validate_volume_name(std::string_view name, std::string_view field) {
  if (name.empty()) return invalid(field, "must not be empty");
  if (name.size() > kMaxVolumeNameLength) {
    return invalid(field,
                   "must be at most " + std::to_string(kMaxVolumeNameLength) + " characters long");
  }
  if (!is_alnum(name.front())) return invalid(field, "must start with a letter or digit");
  for (char ch : name) {
    if (!is_alnum(ch) && ch != '_' && ch != '.' && ch != '-') {
      return invalid(field, "may contain only letters, digits, '_', '.' and '-'");
    }
  }
  return std::string(name);
}

// CapRover's appDeployTokenConfig {enabled, appDeployToken?}: disabled drops the token; enabled
// keeps the given one (or the current one; an empty one is filled by the API with a random
// token). A given token must be long enough not to be guessed.
Problem read_deploy_token_config(const json& value, AppDefinition& app) {
  if (value.is_null()) return std::nullopt;
  constexpr std::string_view kField = "appDeployTokenConfig";
  if (!value.is_object()) return invalid(kField, "must be an object").error();
  bool enabled = false;
  if (auto p = read_bool(value.contains("enabled") ? value["enabled"] : json(false),
                         "appDeployTokenConfig.enabled", enabled)) {
    return p;
  }
  std::string token = app.deploy_token;
  if (auto it = value.find("appDeployToken"); it != value.end() && !it->is_null()) {
    if (auto p = read_string(*it, "appDeployTokenConfig.appDeployToken", 256, token)) return p;
    const bool printable = std::all_of(token.begin(), token.end(), [](char c) {
      return c > ' ' && c < 127;
    });
    if (!token.empty() && (token.size() < 16 || !printable)) {
      return invalid("appDeployTokenConfig.appDeployToken",
                     "must be 16 to 256 printable characters without spaces, or empty for a "
                     "random one")
          .error();
    }
  }
  app.deploy_token_enabled = enabled;
  app.deploy_token = enabled ? token : std::string();
  return std::nullopt;
}

// A repository URL git may fetch from the network: https://, http://, ssh://, git:// or scp-like
// user@host:path. Local paths and file:// are refused (they would read the controller's disk).
bool is_remote_repo(std::string_view repo) {
  for (std::string_view scheme : {"https://", "http://", "ssh://", "git://"}) {
    if (repo.starts_with(scheme) && repo.size() > scheme.size()) return true;
  }
  const auto at = repo.find('@');
  const auto colon = repo.find(':');
  return at != std::string_view::npos && colon != std::string_view::npos && at < colon &&
         at > 0 && repo.find('/') > colon;
}

// CapRover's appPushWebhook {repoInfo: {repo, branch, user, password, sshKey}}: a repository
// and branch set the webhook up (its token kept if it had one), an empty repo removes it.
// Credentials are user + password, or sshKey, or none for a public repository.
Problem read_push_webhook(const json& value, AppDefinition& app) {
  if (value.is_null()) return std::nullopt;
  constexpr std::string_view kField = "appPushWebhook";
  if (!value.is_object()) return invalid(kField, "must be an object").error();
  const auto info = value.find("repoInfo");
  if (info == value.end() || info->is_null()) return std::nullopt;
  if (!info->is_object()) return invalid("appPushWebhook.repoInfo", "must be an object").error();
  RepoInfo repo;
  const auto text = [&](const char* key, std::size_t max, std::string& out) -> Problem {
    auto it = info->find(key);
    if (it == info->end()) return std::nullopt;
    return read_string(*it, std::string("appPushWebhook.repoInfo.") + key, max, out);
  };
  for (auto p : {text("repo", 2048, repo.repo), text("branch", 255, repo.branch),
                 text("user", 255, repo.user), text("password", 1024, repo.password),
                 text("sshKey", 16384, repo.ssh_key)}) {
    if (p) return p;
  }
  if (repo.repo.empty()) {
    app.push_webhook.reset();
    return std::nullopt;
  }
  if (!is_remote_repo(repo.repo)) {
    return invalid("appPushWebhook.repoInfo.repo",
                   "must be a remote git URL (https://, http://, ssh://, git:// or "
                   "user@host:path)")
        .error();
  }
  // A branch name git accepts and that cannot become an option of the clone.
  const bool branch_ok =
      !repo.branch.empty() && repo.branch.front() != '-' &&
      repo.branch.find("..") == std::string::npos &&
      std::all_of(repo.branch.begin(), repo.branch.end(), [](char c) {
        return c > ' ' && c < 127 && c != '~' && c != '^' && c != ':' && c != '?' && c != '*' &&
               c != '[' && c != '\\';
      });
  if (!branch_ok) return invalid("appPushWebhook.repoInfo.branch", "must name a branch").error();
  if (repo.user.empty() != repo.password.empty()) {
    return invalid("appPushWebhook.repoInfo",
                   "user and password go together (or use sshKey, or neither for a public "
                   "repository)")
        .error();
  }
  PushWebhook hook = app.push_webhook.value_or(PushWebhook{});
  hook.repo_info = std::move(repo);
  app.push_webhook = std::move(hook);
  return std::nullopt;
}

Validated<std::string> validate_rate_limit(std::string_view rate) {
  if (auto problem = validation::rate_problem(rate); !problem.empty()) {
    return invalid("rateLimit", problem);
  }
  return std::string(rate);
}

Validated<AppDefinition> apply_update(const AppDefinition& current, const json& body) {
  if (!body.is_object()) return invalid("body", "must be a JSON object");
  AppDefinition app = current;
  auto field = [&](const char* key) -> const json& {
    static const json kNull;
    auto it = body.find(key);
    return it == body.end() ? kNull : *it;
  };

  if (const json& name = field("appName"); !name.is_null()) {
    if (!name.is_string()) return invalid("appName", "must be a string");
    if (name.get_ref<const std::string&>() != current.app_name) {
      return invalid("appName", "cannot be changed by an update (it names the app to update)");
    }
  }
  if (const json& count = field("instanceCount"); !count.is_null()) {
    auto n = validate_instance_count(count);
    if (!n) return Unexpected(n.error());
    app.instance_count = *n;
  }
  if (const json& port = field("containerHttpPort"); !port.is_null()) {
    auto p = validate_port(port, "containerHttpPort");
    if (!p) return Unexpected(p.error());
    app.container_http_port = *p;
  }

  Problem problems[] = {
      read_string(field("description"), "description", kMaxDescriptionLength, app.description),
      read_definition_path(field("captainDefinitionRelativeFilePath"),
                           app.captain_definition_relative_file_path),
      read_env_vars(field("envVars"), app.env_vars),
      read_volumes(field("volumes"), app.volumes),
      read_ports(field("ports"), app.ports),
      read_bool(field("forceSsl"), "forceSsl", app.force_ssl),
      read_bool(field("websocketSupport"), "websocketSupport", app.websocket_support),
      read_bool(field("notExposeAsWebApp"), "notExposeAsWebApp", app.not_expose_as_web_app),
      read_node_id(field("nodeId"), app.node_id),
      read_tags(field("tags"), app.tags),
      read_rate_limit(field("rateLimit"), app.rate_limit),
      read_bool(field("cache"), "cache", app.cache),
      read_header_policy(field("headerPolicy"), app.header_policy),
      read_string(field("customNginxConfig"), "customNginxConfig", kMaxCustomNginxConfigLength,
                  app.custom_nginx_config),
      read_deploy_token_config(field("appDeployTokenConfig"), app),
      read_push_webhook(field("appPushWebhook"), app),
  };
  for (auto& p : problems) {
    if (p) return Unexpected(std::move(*p));
  }

  // CapRover's rule: forcing HTTPS needs somewhere to send the client.
  if (app.force_ssl) {
    bool has_ssl = app.has_default_sub_domain_ssl;
    for (const auto& d : app.custom_domain) has_ssl = has_ssl || d.has_ssl;
    if (!has_ssl) {
      return invalid("forceSsl", "cannot be enabled without at least one SSL-enabled domain");
    }
  }
  return app;
}

}  // namespace captain::apps
