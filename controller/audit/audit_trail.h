// One audit record per mutation and per login attempt: a row in the store (in the same
// transaction as the change it describes, so a rolled-back change leaves no "ok" record) and a
// JSON log line with the same fields.
#pragma once

#include <string>

#include "controller/api/request_context.h"
#include "controller/log/json_log.h"
#include "controller/store/audit_store.h"
#include "controller/store/sqlite.h"

namespace captain::audit {

struct AuditEntry {
  std::string actor;     // "admin" once authenticated, "anonymous" for a login attempt
  std::string action;    // "apps.register", "auth.login", ...
  std::string resource;  // "app:<name>", "session"
  std::string result;    // "ok", or "error:<api status>"
  std::string detail;    // the refusal message, or what changed
};

class AuditTrail {
 public:
  AuditTrail(store::Database& db, logging::JsonLog& log) : db_(db), log_(log) {}

  // Inside the caller's write transaction (the mutation's own).
  store::Status record(store::Transaction& tx, const api::RequestContext& context,
                       const AuditEntry& entry);

  // In a transaction of its own: for refusals and failures, whose own transaction (if any)
  // was rolled back. A store error here is logged, not returned: the refusal stands.
  void record_alone(const api::RequestContext& context, const AuditEntry& entry);

 private:
  store::AuditEvent event_of(const api::RequestContext& context, const AuditEntry& entry) const;
  void log_line(const store::AuditEvent& event);

  store::Database& db_;
  logging::JsonLog& log_;
  store::AuditStore audit_;
};

}  // namespace captain::audit
