// The GCRA decision for one key: pure integer arithmetic on its theoretical arrival time.
#pragma once

#include <cstdint>

#include "ngx_module/core/rate_limit/policy.h"

namespace captain::rate_limit {

// All times are in the policy's units (1/scale ms) on one clock. `tat` is the key's theoretical
// arrival time: the state is "empty" (full capacity available) whenever tat <= now, so a key
// that was never seen is tat = 0.
struct Decision {
  bool allowed = false;
  std::uint64_t tat = 0;          // the key's state after this request (unchanged when rejected
                                  // or when not charged)
  std::uint64_t remaining = 0;    // requests that would pass right after this one, 0 .. capacity
  std::uint64_t retry_after = 0;  // units until a request would pass; 0 when allowed
  std::uint64_t reset = 0;        // units until the key is back to full capacity
};

// Decides one request. With charge, an allowed request consumes one emission interval; a
// rejected request never changes the state. Without charge (count=failures checks up front),
// remaining is what is left before this request.
Decision decide(const Policy& policy, std::uint64_t tat, std::uint64_t now, bool charge);

// The state after charging one request unconditionally (count=failures, when the response
// turned out to be a failure): max(tat, now) + T.
std::uint64_t charge_unconditionally(const Policy& policy, std::uint64_t tat, std::uint64_t now);

// Milliseconds for a span of units, rounded up (a client told to wait must not come too early).
std::uint64_t units_to_ms_ceil(const Policy& policy, std::uint64_t units);

// The values of the rate-limit response headers for one decision.
struct HeaderValues {
  std::uint64_t limit = 0;           // X-RateLimit-Limit, RateLimit-Policy q: capacity
  std::uint64_t remaining = 0;       // X-RateLimit-Remaining, RateLimit r
  std::uint64_t reset_seconds = 0;   // seconds until full capacity, rounded up (RateLimit t)
  std::uint64_t reset_epoch = 0;     // X-RateLimit-Reset: Unix time of full capacity
  std::uint64_t retry_after = 0;     // Retry-After seconds, >= 1 on rejection; 0 when allowed
  std::uint64_t window_seconds = 0;  // RateLimit-Policy w: the period, rounded up, >= 1
};

HeaderValues header_values(const Policy& policy, const Decision& decision,
                           std::uint64_t now_epoch_seconds);

}  // namespace captain::rate_limit
