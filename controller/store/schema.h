// The store's schema: an ordered list of migrations, tracked in PRAGMA user_version.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

#include "controller/store/sqlite.h"

namespace captain::store {

// One step of the schema. Migration N takes a database at user_version N-1 to N; it runs in its
// own write transaction together with the user_version bump, so a crash mid-migration leaves
// the database at N-1, never in between.
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;  // one or more statements
};

// The binary's migrations, versions 1..N in order (see schema.cpp to add one).
std::span<const Migration> migrations();

// The schema version the database file is at (0 for a new file).
Result<int> schema_version(Database& db);

// Brings the database to the last version of `list` (default: migrations()), applying the
// missing steps in order; returns the resulting version. A database newer than the list is
// refused with StoreError::Kind::schema (an older binary must not write a schema it does not
// know). A list not numbered 1..N is refused with Kind::invalid.
Result<int> migrate(Database& db, std::span<const Migration> list);
Result<int> migrate(Database& db);

// Database::open followed by migrate(): what the controller calls at startup.
Result<std::unique_ptr<Database>> open_store(const std::filesystem::path& path);

}  // namespace captain::store
