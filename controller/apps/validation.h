// Validation of every user-supplied app field, and applying a CapRover `update` request body to
// an app definition. Expected failures come back as a ValidationError naming the field; nothing
// here throws.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "controller/apps/app_definition.h"
#include "controller/common/expected.h"

namespace captain::apps {

struct ValidationError {
  std::string field;    // as the client spells it, e.g. "envVars[2].key"
  std::string message;  // a whole sentence starting with the field, e.g. "instanceCount must..."
  friend bool operator==(const ValidationError&, const ValidationError&) = default;
};

template <class T>
using Validated = Expected<T, ValidationError>;

inline constexpr int kMaxInstanceCount = 50;
inline constexpr int kMaxPort = 65535;
inline constexpr std::size_t kMaxEnvVars = 1000;
inline constexpr std::size_t kMaxEnvKeyLength = 256;
inline constexpr std::size_t kMaxEnvValueLength = 64 * 1024;
inline constexpr std::size_t kMaxPathLength = 4096;  // PATH_MAX
inline constexpr std::size_t kMaxVolumeNameLength = 255;
inline constexpr std::size_t kMaxImageNameLength = 255;  // Docker's limit on the name part
inline constexpr std::size_t kMaxImageTagLength = 128;
inline constexpr std::size_t kMaxDescriptionLength = 8 * 1024;
inline constexpr std::size_t kMaxCustomNginxConfigLength = 64 * 1024;
inline constexpr std::size_t kMaxTagNameLength = 64;
inline constexpr std::size_t kMaxListLength = 100;  // volumes, ports, tags

// CapRover's app-name rule (shared/validation/app_name.h). Field "appName".
Validated<std::string> validate_app_name(std::string_view name);

// An integral JSON number from 0 to 50. Strings, booleans and floats (even 3.0) are refused.
Validated<int> validate_instance_count(const nlohmann::json& value);

// Key [A-Za-z_][A-Za-z0-9_]* of at most 256 bytes (surrounding whitespace trimmed, as CapRover
// does); value without NUL, at most 64 KiB. `field` is the entry's name, e.g. "envVars[0]".
Validated<EnvVar> validate_env_var(std::string_view key, std::string_view value,
                                   std::string_view field = "envVars");

// A Docker image reference per distribution/reference: [host[:port]/]path[:tag][@sha256:<hex>].
// Returns it unchanged. Field "imageName".
Validated<std::string> validate_image_reference(std::string_view reference);

// A custom domain: lowercased, then shared/validation/domain.h's rules. Returns the lowercased
// domain.
Validated<std::string> validate_domain(std::string_view domain,
                                       std::string_view field = "customDomain");

// An integral JSON number from 1 to 65535.
Validated<int> validate_port(const nlohmann::json& value, std::string_view field);

// An absolute path without NUL, without ".." segments, at most 4096 bytes.
Validated<std::string> validate_absolute_path(std::string_view path, std::string_view field);

// Docker's volume-name rule [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 255 bytes.
Validated<std::string> validate_volume_name(std::string_view name,
                                            std::string_view field = "volumeName");

// nginx-style "<N>r/<unit>" or "<N>r/<K><unit>", unit ms|s|m|h|d, N and K from 1 to 1000000
// (the module's parser has the final word on the exact rate). Field "rateLimit".
Validated<std::string> validate_rate_limit(std::string_view rate);

// Applies the body of POST /api/v2/user/apps/appDefinitions/update (what the caprover CLI and
// web UI send) onto `current`, validating each field. Unlike CapRover, which resets omitted
// fields, a field that is absent or null keeps its current value, so the CLI's partial bodies
// are safe. Unknown fields and CapRover features Tyaprover lacks (customNginxConfig,
// appPushWebhook, httpAuth, preDeployFunction, ...) are ignored; customDomain, versions and
// hasPersistentData are changed only by their own endpoints and ignored here too. Returns the
// updated definition, or the first invalid field.
Validated<AppDefinition> apply_update(const AppDefinition& current, const nlohmann::json& body);

}  // namespace captain::apps
