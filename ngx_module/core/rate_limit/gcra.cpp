// GCRA decisions and the response-header values derived from them: integer arithmetic only.
#include "ngx_module/core/rate_limit/gcra.h"

#include <algorithm>

namespace captain::rate_limit {

namespace {

constexpr std::uint64_t kMsPerSecond = 1000;

std::uint64_t ceil_div(std::uint64_t value, std::uint64_t divisor) {
  return value / divisor + (value % divisor != 0 ? 1 : 0);
}

// A default-constructed Policy has interval 0; treating it as 1 keeps a misuse from becoming a
// division by zero (SIGFPE) inside an nginx worker.
std::uint64_t interval_of(const Policy& policy) {
  return policy.interval == 0 ? 1 : policy.interval;
}

}  // namespace

Decision decide(const Policy& policy, std::uint64_t tat, std::uint64_t now, bool charge) {
  const std::uint64_t interval = interval_of(policy);
  const std::uint64_t base = std::max(tat, now);
  // The key's debt: how far its schedule runs ahead of the clock.
  const std::uint64_t debt = base - now;
  Decision d;
  d.tat = tat;
  if (debt > policy.tolerance) {
    d.allowed = false;
    d.retry_after = debt - policy.tolerance;
    d.reset = debt;
    return d;
  }
  d.allowed = true;
  // A debt of capacity * T means nothing is left; every T less is one more request.
  const std::uint64_t full = policy.tolerance + interval;
  const std::uint64_t after = charge ? debt + interval : debt;
  if (charge) d.tat = base + interval;
  d.remaining = (full - after) / interval;
  d.reset = after;
  return d;
}

std::uint64_t charge_unconditionally(const Policy& policy, std::uint64_t tat, std::uint64_t now) {
  return std::max(tat, now) + interval_of(policy);
}

std::uint64_t units_to_ms_ceil(const Policy& policy, std::uint64_t units) {
  return policy.scale == 0 ? units : ceil_div(units, policy.scale);
}

HeaderValues header_values(const Policy& policy, const Decision& decision,
                           std::uint64_t now_epoch_seconds) {
  HeaderValues v;
  v.limit = policy.capacity;
  v.remaining = decision.remaining;
  // Rounded up: a client that trusts the headers must never come back too early.
  v.reset_seconds = ceil_div(units_to_ms_ceil(policy, decision.reset), kMsPerSecond);
  v.reset_epoch = now_epoch_seconds + v.reset_seconds;
  if (!decision.allowed) {
    // Retry-After: 0 would invite an immediate retry that is still rejected.
    v.retry_after = std::max<std::uint64_t>(
        1, ceil_div(units_to_ms_ceil(policy, decision.retry_after), kMsPerSecond));
  }
  v.window_seconds = std::max<std::uint64_t>(1, ceil_div(policy.period_ms, kMsPerSecond));
  return v;
}

}  // namespace captain::rate_limit
