#include "controller/store/system_store.h"

#include "controller/store/settings_store.h"

namespace captain::store {
namespace {

constexpr const char* kRootDomain = "system.root_domain";
constexpr const char* kHasRootSsl = "system.has_root_ssl";
constexpr const char* kForceSsl = "system.force_ssl";
constexpr const char* kAcmeEmail = "acme.email";

Status put_optional(Transaction& tx, const char* key, const std::optional<std::string>& value) {
  SettingsStore settings;
  return value ? settings.set(tx, key, *value) : settings.erase(tx, key);
}

}  // namespace

Result<SystemState> SystemStore::load(Transaction& tx) const {
  SettingsStore settings;
  SystemState state;
  auto root = settings.get(tx, kRootDomain);
  if (!root) return Unexpected(root.error());
  state.root_domain = *root;
  auto ssl = settings.get(tx, kHasRootSsl);
  if (!ssl) return Unexpected(ssl.error());
  state.has_root_ssl = *ssl == std::optional<std::string>("1");
  auto force = settings.get(tx, kForceSsl);
  if (!force) return Unexpected(force.error());
  state.force_ssl = *force == std::optional<std::string>("1");
  auto email = settings.get(tx, kAcmeEmail);
  if (!email) return Unexpected(email.error());
  state.acme_email = *email;
  return state;
}

Status SystemStore::save(Transaction& tx, const SystemState& state) {
  SettingsStore settings;
  if (auto s = put_optional(tx, kRootDomain, state.root_domain); !s) return s;
  if (auto s = settings.set(tx, kHasRootSsl, state.has_root_ssl ? "1" : "0"); !s) return s;
  if (auto s = settings.set(tx, kForceSsl, state.force_ssl ? "1" : "0"); !s) return s;
  return put_optional(tx, kAcmeEmail, state.acme_email);
}

}  // namespace captain::store
