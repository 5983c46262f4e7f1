// The migrations and the runner that applies them (schema.h).
#include "controller/store/schema.h"

#include <array>
#include <string>

namespace captain::store {
namespace {

// Version 1: apps with their JSON definition, their deploy history, the audit trail and
// key-value settings (password hash, JWT secret). Timestamps are ISO-8601 UTC text.
constexpr std::string_view k_schema_v1 = R"sql(
CREATE TABLE apps (
  name TEXT PRIMARY KEY NOT NULL,
  definition TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE app_versions (
  app TEXT NOT NULL REFERENCES apps(name) ON DELETE CASCADE ON UPDATE CASCADE,
  version INTEGER NOT NULL,
  image TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  log TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (app, version)
) WITHOUT ROWID;

CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT,
  action TEXT,
  resource TEXT,
  result TEXT,
  ip TEXT,
  user_agent TEXT,
  request_id TEXT,
  trace_id TEXT,
  detail TEXT
);
CREATE INDEX audit_events_request_id ON audit_events(request_id);

CREATE TABLE settings (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Version 2: failed logins per client address, so the login back-off (auth/login_backoff.h)
// survives a restart. One row per failure; `at` is wall time in milliseconds since the Unix
// epoch (a steady clock does not survive a reboot), `id` orders failures of the same
// millisecond. The back-off keeps at most its threshold of rows per client, deletes rows that
// left its window when it inserts one, and caps the clients.
constexpr std::string_view k_schema_v2 = R"sql(
CREATE TABLE login_failures (
  id INTEGER PRIMARY KEY,
  client TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX login_failures_client ON login_failures(client, at);
CREATE INDEX login_failures_at ON login_failures(at);
)sql";

// To change the schema, append {3, "what it does", k_schema_v3} with a new constant above; never
// edit a migration that has shipped (databases in the field already ran it). Data migrations
// are SQL too (UPDATE ... / INSERT ... SELECT); SQLite's ALTER TABLE is limited, so a reshaped
// table is created as new, filled, the old one dropped and the new one renamed.
constexpr std::array k_migrations{
    Migration{1, "apps, app_versions, audit_events, settings", k_schema_v1},
    Migration{2, "login_failures", k_schema_v2},
};

Result<int> read_version(Transaction& tx) {
  auto stmt = tx.prepare("PRAGMA user_version");
  if (!stmt) return Unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return Unexpected(row.error());
  if (!*row) return 0;
  return static_cast<int>(stmt->column_int64(0));
}

StoreError too_new(const Database& db, int found, int known) {
  return StoreError{StoreError::Kind::schema, 0,
                    db.path().string() + ": database schema version " + std::to_string(found) +
                        " is newer than this binary supports (" + std::to_string(known) +
                        "); upgrade captain-controller or restore a matching backup"};
}

}  // namespace

std::span<const Migration> migrations() {
  return k_migrations;
}

Result<int> schema_version(Database& db) {
  return db.read([](Transaction& tx) { return read_version(tx); });
}

Result<int> migrate(Database& db, std::span<const Migration> list) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].version != static_cast<int>(i) + 1) {
      return store_error(StoreError::Kind::invalid, "migration list out of order at position " +
                                                        std::to_string(i) + " (version " +
                                                        std::to_string(list[i].version) + ")");
    }
  }
  const int target = static_cast<int>(list.size());

  for (;;) {
    // One transaction per step; the version is re-read under the write lock, so two processes
    // migrating the same file cannot both apply a step.
    auto step = db.write([&](Transaction& tx) -> Result<int> {
      auto version = read_version(tx);
      if (!version) return version;
      if (*version > target) return Unexpected(too_new(db, *version, target));
      if (*version == target) return *version;
      const Migration& next = list[static_cast<std::size_t>(*version)];
      if (auto done = tx.exec(next.sql); !done) {
        StoreError error = done.error();
        error.message = "migration " + std::to_string(next.version) + " (" +
                        std::string(next.description) + "): " + error.message;
        return Unexpected(std::move(error));
      }
      // PRAGMA takes no parameters; the value is an integer we produced.
      if (auto done = tx.exec("PRAGMA user_version=" + std::to_string(next.version)); !done) {
        return Unexpected(done.error());
      }
      return next.version;
    });
    if (!step) return step;
    if (*step == target) return target;
  }
}

Result<int> migrate(Database& db) {
  return migrate(db, migrations());
}

Result<std::unique_ptr<Database>> open_store(const std::filesystem::path& path) {
  auto db = Database::open(path);
  if (!db) return db;
  if (auto version = migrate(**db); !version) return Unexpected(version.error());
  return db;
}

}  // namespace captain::store
