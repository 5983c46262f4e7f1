// Backups of the app definitions as CapRover-style JSON: {"appDefinitions": {"<name>": {...}}}.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>

#include "controller/store/app_store.h"
#include "controller/store/sqlite.h"

namespace captain::store {

// Every app's stored definition, keyed by name. Deploy history (app_versions) is not part of
// the document; the definitions carry CapRover's own versions/deployedVersion fields if the
// model keeps them there.
Result<nlohmann::json> export_backup(Transaction& tx);
Result<nlohmann::json> export_backup(Database& db);

struct ImportOptions {
  // false: an app name already in the store fails the whole import with Kind::exists.
  // true: its definition is replaced (its deploy history is kept).
  bool replace = false;
  // Called for every app before anything is written, e.g. the app model's name and definition
  // validation; an error aborts the import. Optional.
  std::function<Status(std::string_view name, const nlohmann::json& definition)> validate;
};

// Imports every app of a backup document; returns how many were written. The document is
// validated and conflicts are checked before the first write, so an invalid document or a
// conflict writes nothing even through this overload; the caller's transaction must still be
// rolled back on any error (Database::write does that).
Result<std::size_t> import_backup(Transaction& tx, AppStore& apps, const nlohmann::json& backup,
                                  const ImportOptions& options);
// The same in its own write transaction: all apps or none.
Result<std::size_t> import_backup(Database& db, AppStore& apps, const nlohmann::json& backup,
                                  const ImportOptions& options);

}  // namespace captain::store
