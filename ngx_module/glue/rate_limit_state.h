// What rate limiting decided for one client request: kept in its RequestCtx from the access
// check to the response headers and the log.
#pragma once

#include "ngx_module/core/rate_limit/gcra.h"
#include "ngx_module/core/rate_limit/limit_key.h"
#include "ngx_module/core/rate_limit/limit_table.h"
#include "ngx_module/glue/ngx.h"

namespace captain::glue {

struct LimitRule;
struct LimitZone;

// A count=failures limit that let the request through: charged once the response status is
// known.
struct PendingFailureCharge {
  const LimitRule* rule;
  rate_limit::Key key;
};

enum class LimitStatus : std::uint8_t { none = 0, passed, rejected, dry_run, bypass };

struct LimitState {
  bool checked = false;  // limits are applied once per client request, not per redirect
  LimitStatus status = LimitStatus::none;

  // The strictest decision among the limits, which the response headers report.
  const LimitZone* header_zone = nullptr;
  rate_limit::Decision header_decision;

  PendingFailureCharge* pending = nullptr;
  ngx_uint_t pending_count = 0;
};

// Is a stricter than b? A rejection beats a pass; then fewer remaining requests; then the
// longer wait.
inline bool stricter(const rate_limit::Decision& a, const rate_limit::Decision& b) noexcept {
  if (a.allowed != b.allowed) return !a.allowed;
  if (!a.allowed) return a.retry_after > b.retry_after;
  if (a.remaining != b.remaining) return a.remaining < b.remaining;
  return a.reset > b.reset;
}

inline void note_header_decision(LimitState& state, const LimitZone* zone,
                                 const rate_limit::Decision& decision) noexcept {
  if (state.header_zone == nullptr || stricter(decision, state.header_decision)) {
    state.header_zone = zone;
    state.header_decision = decision;
  }
}

}  // namespace captain::glue
