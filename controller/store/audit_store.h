// The audit trail in the store: one row per mutation attempt (who, what, when, result, ids).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controller/store/sqlite.h"

namespace captain::store {

struct AuditEvent {
  std::int64_t id = 0;  // assigned by append(); ignored on the way in
  std::string at;       // ISO-8601 UTC, set by the caller (it knows when the request came)
  std::string actor;
  std::string action;    // e.g. "apps.register"
  std::string resource;  // e.g. "app:my-app"
  std::string result;    // e.g. "ok", "denied", "error:1103"
  std::string ip;
  std::string user_agent;
  std::string request_id;
  std::string trace_id;
  std::string detail;  // free text or JSON, the caller's choice
};

// Runs inside the caller's transaction. Note for callers: an audit line for a failed mutation
// must be appended in its own write transaction, after the failed one rolled back.
class AuditStore {
 public:
  // Stores the event; returns its id (increasing with every append).
  Result<std::int64_t> append(Transaction& tx, const AuditEvent& event);
  // The last `limit` events, newest first.
  Result<std::vector<AuditEvent>> recent(Transaction& tx, std::int64_t limit) const;
  // Every event of one request, oldest first.
  Result<std::vector<AuditEvent>> by_request_id(Transaction& tx, std::string_view request_id) const;
};

}  // namespace captain::store
