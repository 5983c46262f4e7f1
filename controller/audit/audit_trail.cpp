#include "controller/audit/audit_trail.h"

#include "controller/store/app_store.h"

namespace captain::audit {

store::AuditEvent AuditTrail::event_of(const api::RequestContext& context,
                                       const AuditEntry& entry) const {
  store::AuditEvent event;
  event.at = store::utc_now_iso8601();
  event.actor = entry.actor;
  event.action = entry.action;
  event.resource = entry.resource;
  event.result = entry.result;
  event.ip = context.client_ip;
  event.user_agent = context.user_agent;
  event.request_id = context.request_id;
  event.trace_id = context.trace_id;
  event.detail = entry.detail;
  return event;
}

void AuditTrail::log_line(const store::AuditEvent& event) {
  log_.info("audit", {{"at", event.at},
                      {"actor", event.actor},
                      {"action", event.action},
                      {"resource", event.resource},
                      {"result", event.result},
                      {"ip", event.ip},
                      {"user_agent", event.user_agent},
                      {"request_id", event.request_id},
                      {"trace_id", event.trace_id},
                      {"detail", event.detail}});
}

store::Status AuditTrail::record(store::Transaction& tx, const api::RequestContext& context,
                                 const AuditEntry& entry) {
  const store::AuditEvent event = event_of(context, entry);
  auto appended = audit_.append(tx, event);
  if (!appended) return Unexpected(appended.error());
  // Logged before the commit: a line for a change that then fails to commit is possible, a
  // committed change without its line is not.
  log_line(event);
  return {};
}

void AuditTrail::record_alone(const api::RequestContext& context, const AuditEntry& entry) {
  const store::AuditEvent event = event_of(context, entry);
  auto appended = db_.write([&](store::Transaction& tx) { return audit_.append(tx, event); });
  log_line(event);
  if (!appended) {
    log_.error("audit record not stored",
               {{"request_id", event.request_id}, {"error", appended.error().message}});
  }
}

}  // namespace captain::audit
