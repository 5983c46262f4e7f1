// LoginFailureStore: SQL over the login_failures table (login_failure_store.h).
#include "controller/store/login_failure_store.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace captain::store {
namespace {

std::int64_t to_millis(LoginFailureStore::Time t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

LoginFailureStore::Time from_millis(std::int64_t ms) {
  return LoginFailureStore::Time(std::chrono::milliseconds(ms));
}

}  // namespace

Status LoginFailureStore::each_between(
    Transaction& tx, Time from, Time to,
    const std::function<void(std::string_view client, Time at)>& fn) const {
  // Served by login_failures_at; id breaks ties in insertion order.
  auto stmt = tx.prepare(
      "SELECT client, at FROM login_failures WHERE at > ?1 AND at <= ?2 ORDER BY at, id");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_int64(1, to_millis(from)).bind_int64(2, to_millis(to));
  for (;;) {
    auto row = stmt->step();
    if (!row) return Unexpected(row.error());
    if (!*row) return {};
    fn(stmt->column_text(0), from_millis(stmt->column_int64(1)));
  }
}

Status LoginFailureStore::add(Transaction& tx, std::string_view client, Time at) {
  auto stmt = tx.prepare("INSERT INTO login_failures (client, at) VALUES (?1, ?2)");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, client).bind_int64(2, to_millis(at));
  return stmt->run();
}

Status LoginFailureStore::keep_newest(Transaction& tx, std::string_view client, std::size_t keep) {
  // Both halves walk login_failures_client for this one client (the index carries the id).
  auto stmt = tx.prepare(
      "DELETE FROM login_failures WHERE client = ?1 AND id NOT IN "
      "(SELECT id FROM login_failures WHERE client = ?1 ORDER BY at DESC, id DESC LIMIT ?2)");
  if (!stmt) return Unexpected(stmt.error());
  constexpr auto k_most = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  stmt->bind_text(1, client).bind_int64(2, static_cast<std::int64_t>(std::min(keep, k_most)));
  return stmt->run();
}

Status LoginFailureStore::forget(Transaction& tx, std::string_view client) {
  auto stmt = tx.prepare("DELETE FROM login_failures WHERE client = ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, client);
  return stmt->run();
}

Result<std::int64_t> LoginFailureStore::prune(Transaction& tx, Time from, Time to) {
  // Two range deletes on login_failures_at: the cost is the rows deleted, not the table.
  const std::pair<const char*, Time> deletes[] = {
      {"DELETE FROM login_failures WHERE at <= ?1", from},
      {"DELETE FROM login_failures WHERE at > ?1", to},
  };
  std::int64_t deleted = 0;
  for (const auto& [sql, bound] : deletes) {
    auto stmt = tx.prepare(sql);
    if (!stmt) return Unexpected(stmt.error());
    stmt->bind_int64(1, to_millis(bound));
    if (auto done = stmt->run(); !done) return Unexpected(done.error());
    deleted += tx.changes();
  }
  return deleted;
}

}  // namespace captain::store
