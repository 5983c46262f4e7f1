// AuditStore: SQL over the audit_events table (audit_store.h).
#include "controller/store/audit_store.h"

namespace captain::store {
namespace {

constexpr std::string_view k_columns =
    "id, at, actor, action, resource, result, ip, user_agent, request_id, trace_id, detail";

Result<std::vector<AuditEvent>> collect(Statement& stmt) {
  std::vector<AuditEvent> events;
  for (;;) {
    auto row = stmt.step();
    if (!row) return Unexpected(row.error());
    if (!*row) return events;
    AuditEvent event;
    event.id = stmt.column_int64(0);
    event.at = stmt.column_text(1);
    event.actor = stmt.column_text(2);
    event.action = stmt.column_text(3);
    event.resource = stmt.column_text(4);
    event.result = stmt.column_text(5);
    event.ip = stmt.column_text(6);
    event.user_agent = stmt.column_text(7);
    event.request_id = stmt.column_text(8);
    event.trace_id = stmt.column_text(9);
    event.detail = stmt.column_text(10);
    events.push_back(std::move(event));
  }
}

}  // namespace

Result<std::int64_t> AuditStore::append(Transaction& tx, const AuditEvent& event) {
  auto stmt = tx.prepare(
      "INSERT INTO audit_events (at, actor, action, resource, result, ip, user_agent, "
      "request_id, trace_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, event.at)
      .bind_text(2, event.actor)
      .bind_text(3, event.action)
      .bind_text(4, event.resource)
      .bind_text(5, event.result)
      .bind_text(6, event.ip)
      .bind_text(7, event.user_agent)
      .bind_text(8, event.request_id)
      .bind_text(9, event.trace_id)
      .bind_text(10, event.detail);
  if (auto done = stmt->run(); !done) return Unexpected(done.error());
  return tx.last_insert_rowid();
}

Result<std::vector<AuditEvent>> AuditStore::recent(Transaction& tx, std::int64_t limit) const {
  auto stmt = tx.prepare("SELECT " + std::string(k_columns) +
                         " FROM audit_events ORDER BY id DESC LIMIT ?1");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_int64(1, limit < 0 ? 0 : limit);
  return collect(*stmt);
}

Result<std::vector<AuditEvent>> AuditStore::by_request_id(Transaction& tx,
                                                          std::string_view request_id) const {
  auto stmt = tx.prepare("SELECT " + std::string(k_columns) +
                         " FROM audit_events WHERE request_id = ?1 ORDER BY id");
  if (!stmt) return Unexpected(stmt.error());
  stmt->bind_text(1, request_id);
  return collect(*stmt);
}

}  // namespace captain::store
