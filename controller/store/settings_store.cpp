// SettingsStore: SQL over the settings table (settings_store.h).
#include "controller/store/settings_store.h"

namespace captain::store {

Result<std::optional<std::string>> SettingsStore::get(Transaction& tx, std::string_view key) const {
  auto stmt = tx.prepare("SELECT value FROM settings WHERE key = ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, key);
  auto row = stmt->step();
  if (!row) return Unexpected(row.error());
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(stmt->column_text(0));
}

Status SettingsStore::set(Transaction& tx, std::string_view key, std::string_view value) {
  auto stmt = tx.prepare(
      "INSERT INTO settings (key, value) VALUES (?1, ?2) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, key).bind_text(2, value);
  return stmt->run();
}

Status SettingsStore::erase(Transaction& tx, std::string_view key) {
  auto stmt = tx.prepare("DELETE FROM settings WHERE key = ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, key);
  return stmt->run();
}

}  // namespace captain::store
