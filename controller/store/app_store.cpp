// AppStore: SQL over the apps and app_versions tables (app_store.h).
#include "controller/store/app_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace captain::store {
namespace {

StoreError not_found(std::string_view what) {
  return StoreError{StoreError::Kind::not_found, 0, std::string(what) + " not found"};
}

std::string app_label(std::string_view name) {
  return "app '" + std::string(name) + "'";
}

std::string version_label(std::string_view app, std::int64_t version) {
  return "version " + std::to_string(version) + " of " + app_label(app);
}

Result<bool> app_exists(Transaction& tx, std::string_view name) {
  auto stmt = tx.prepare("SELECT 1 FROM apps WHERE name = ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, name);
  return stmt->step();
}

}  // namespace

std::string utc_now_iso8601() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t seconds = system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char date[32];
  std::size_t length = std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &utc);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(millis));
  return std::string(date, length) + fraction;
}

Result<std::string> definition_text(const nlohmann::json& definition) {
  if (!definition.is_object()) {
    return store_error(StoreError::Kind::invalid, "app definition must be a JSON object");
  }
  try {
    return definition.dump();
  } catch (const nlohmann::json::exception& e) {
    return store_error(StoreError::Kind::invalid, std::string("app definition: ") + e.what());
  }
}

Result<nlohmann::json> parse_definition(std::string_view app, const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return store_error(StoreError::Kind::invalid,
                       "stored definition of " + app_label(app) + " is not a JSON object");
  }
  return json;
}

namespace {

Result<AppRecord> record_from(const Statement& stmt) {
  AppRecord record;
  record.name = stmt.column_text(0);
  auto definition = parse_definition(record.name, stmt.column_text(1));
  if (!definition) return Unexpected(definition.error());
  record.definition = std::move(*definition);
  record.created_at = stmt.column_text(2);
  record.updated_at = stmt.column_text(3);
  return record;
}

}  // namespace

Result<std::vector<AppRecord>> AppStore::list(Transaction& tx) const {
  auto stmt = tx.prepare("SELECT name, definition, created_at, updated_at FROM apps ORDER BY name");
  if (!stmt) return Unexpected(stmt.error());
  std::vector<AppRecord> apps;
  for (;;) {
    auto row = stmt->step();
    if (!row) return Unexpected(row.error());
    if (!*row) return apps;
    auto record = record_from(*stmt);
    if (!record) return Unexpected(record.error());
    apps.push_back(std::move(*record));
  }
}

Result<AppRecord> AppStore::get(Transaction& tx, std::string_view name) const {
  auto stmt =
      tx.prepare("SELECT name, definition, created_at, updated_at FROM apps WHERE name = ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, name);
  auto row = stmt->step();
  if (!row) return Unexpected(row.error());
  if (!*row) return Unexpected(not_found(app_label(name)));
  return record_from(*stmt);
}

Status AppStore::insert(Transaction& tx, std::string_view name, const nlohmann::json& definition) {
  auto text = definition_text(definition);
  if (!text) return Unexpected(text.error());
  auto stmt = tx.prepare(
      "INSERT INTO apps (name, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, name).bind_text(2, *text).bind_text(3, clock_());
  auto done = stmt->run();
  if (!done && done.error().code == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return Unexpected(
        StoreError{StoreError::Kind::exists, done.error().code, app_label(name) + " exists"});
  }
  return done;
}

Status AppStore::update(Transaction& tx, std::string_view name, const nlohmann::json& definition) {
  auto text = definition_text(definition);
  if (!text) return Unexpected(text.error());
  auto stmt = tx.prepare("UPDATE apps SET definition = ?2, updated_at = ?3 WHERE name = ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, name).bind_text(2, *text).bind_text(3, clock_());
  if (auto done = stmt->run(); !done) return done;
  if (tx.changes() == 0) return Unexpected(not_found(app_label(name)));
  return {};
}

Status AppStore::remove(Transaction& tx, std::string_view name) {
  auto stmt = tx.prepare("DELETE FROM apps WHERE name = ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, name);
  if (auto done = stmt->run(); !done) return done;
  // changes() counts the app row only; cascaded version rows are not included.
  if (tx.changes() == 0) return Unexpected(not_found(app_label(name)));
  return {};
}

Result<std::int64_t> AppStore::add_version(Transaction& tx, std::string_view app,
                                           std::string_view image, std::string_view status) {
  // Checked rather than left to the foreign key, so the caller gets not_found, not a
  // constraint failure; inside the write transaction nobody can delete the app in between.
  auto exists = app_exists(tx, app);
  if (!exists) return Unexpected(exists.error());
  if (!*exists) return Unexpected(not_found(app_label(app)));

  auto stmt = tx.prepare(
      "INSERT INTO app_versions (app, version, image, status, created_at) "
      "SELECT ?1, COALESCE(MAX(version) + 1, 0), ?2, ?3, ?4 FROM app_versions WHERE app = ?1 "
      "RETURNING version");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, app).bind_text(2, image).bind_text(3, status).bind_text(4, clock_());
  auto row = stmt->step();
  if (!row) return Unexpected(row.error());
  if (!*row) {
    return store_error(StoreError::Kind::sqlite, "add_version: no version returned");
  }
  std::int64_t version = stmt->column_int64(0);
  if (auto done = stmt->run(); !done) return Unexpected(done.error());
  return version;
}

Status AppStore::set_version_status(Transaction& tx, std::string_view app, std::int64_t version,
                                    std::string_view status) {
  auto stmt = tx.prepare("UPDATE app_versions SET status = ?3 WHERE app = ?1 AND version = ?2");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, app).bind_int64(2, version).bind_text(3, status);
  if (auto done = stmt->run(); !done) return done;
  if (tx.changes() == 0) return Unexpected(not_found(version_label(app, version)));
  return {};
}

Status AppStore::append_version_log(Transaction& tx, std::string_view app, std::int64_t version,
                                    std::string_view text) {
  auto stmt = tx.prepare("UPDATE app_versions SET log = log || ?3 WHERE app = ?1 AND version = ?2");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, app).bind_int64(2, version).bind_text(3, text);
  if (auto done = stmt->run(); !done) return done;
  if (tx.changes() == 0) return Unexpected(not_found(version_label(app, version)));
  return {};
}

Result<std::vector<AppVersion>> AppStore::versions(Transaction& tx, std::string_view app) const {
  auto stmt = tx.prepare(
      "SELECT app, version, image, status, created_at, log FROM app_versions WHERE app = ?1 "
      "ORDER BY version");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, app);
  std::vector<AppVersion> result;
  for (;;) {
    auto row = stmt->step();
    if (!row) return Unexpected(row.error());
    if (!*row) return result;
    result.push_back(AppVersion{stmt->column_text(0), stmt->column_int64(1), stmt->column_text(2),
                                stmt->column_text(3), stmt->column_text(4), stmt->column_text(5)});
  }
}

}  // namespace captain::store
