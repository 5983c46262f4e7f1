// Export and import of app definitions (backup.h).
#include "controller/store/backup.h"

#include <string>

namespace captain::store {
namespace {

constexpr const char* k_key = "appDefinitions";

}  // namespace

Result<nlohmann::json> export_backup(Transaction& tx) {
  auto apps = AppStore().list(tx);
  if (!apps) return Unexpected(apps.error());
  nlohmann::json definitions = nlohmann::json::object();
  for (auto& app : *apps) definitions[app.name] = std::move(app.definition);
  return nlohmann::json{{k_key, std::move(definitions)}};
}

Result<nlohmann::json> export_backup(Database& db) {
  return db.read([](Transaction& tx) { return export_backup(tx); });
}

Result<std::size_t> import_backup(Transaction& tx, AppStore& apps, const nlohmann::json& backup,
                                  const ImportOptions& options) {
  if (!backup.is_object() || !backup.contains(k_key) || !backup[k_key].is_object()) {
    return store_error(StoreError::Kind::invalid,
                       "backup: expected an object with an \"appDefinitions\" object");
  }
  const auto& definitions = backup[k_key];

  // Everything that can be refused is refused before the first write.
  for (const auto& [name, definition] : definitions.items()) {
    if (name.empty()) return store_error(StoreError::Kind::invalid, "backup: empty app name");
    if (auto text = definition_text(definition); !text) {
      StoreError error = text.error();
      error.message = "backup: app '" + name + "': " + error.message;
      return Unexpected(std::move(error));
    }
    if (options.validate) {
      if (auto valid = options.validate(name, definition); !valid) return Unexpected(valid.error());
    }
    if (!options.replace) {
      auto existing = apps.get(tx, name);
      if (existing) {
        return store_error(StoreError::Kind::exists,
                           "backup: app '" + name + "' exists (import with replace to overwrite)");
      }
      if (existing.error().kind != StoreError::Kind::not_found) {
        return Unexpected(existing.error());
      }
    }
  }

  std::size_t written = 0;
  for (const auto& [name, definition] : definitions.items()) {
    auto done = apps.insert(tx, name, definition);
    if (!done && done.error().kind == StoreError::Kind::exists && options.replace) {
      done = apps.update(tx, name, definition);
    }
    if (!done) return Unexpected(done.error());
    ++written;
  }
  return written;
}

Result<std::size_t> import_backup(Database& db, AppStore& apps, const nlohmann::json& backup,
                                  const ImportOptions& options) {
  return db.write([&](Transaction& tx) { return import_backup(tx, apps, backup, options); });
}

}  // namespace captain::store
