// A rate limit as configured ("100r/m", burst) turned into exact integer GCRA parameters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace captain::rate_limit {

// "N r/P": N requests per period P.
struct Rate {
  std::uint64_t requests = 0;   // N, 1 .. kMaxRequests
  std::uint64_t period_ms = 0;  // P, 1 ms .. kMaxPeriodMs
};

inline constexpr std::uint64_t kMaxRequests = 10'000'000;
inline constexpr std::uint64_t kMaxPeriodMs = 86'400'000;  // one day
inline constexpr std::uint64_t kMaxBurst = 10'000'000;

struct RateParse {
  bool ok = false;
  Rate rate;
  std::string error;  // why the text is not a rate, for nginx -t
};

// Parses "<N>r/<unit>" or "<N>r/<K><unit>" with unit ms, s, m, h or d, e.g. "20r/s", "100r/m",
// "5r/15m", "10r/500ms". N and K are decimal without sign; the result must be within bounds.
RateParse parse_rate(std::string_view text);

// GCRA ("generic cell rate algorithm", a virtual-scheduling token bucket) in integer units.
//
// Time is counted in units of 1/scale ms, where scale = N / gcd(N, P_ms), so the emission
// interval T = P / N is the exact integer P_ms / gcd(N, P_ms) units: "3r/s" and "5r/15m" are
// as exact as "20r/s". A client may send `capacity` = N + burst requests at once, then one per T.
// Over any interval of length W at most capacity + floor(W / T) requests pass: the long-run rate
// is exactly N per P and a burst never exceeds N + burst.
struct Policy {
  std::uint64_t requests = 0;   // N
  std::uint64_t period_ms = 0;  // P
  std::uint64_t burst = 0;
  std::uint64_t scale = 0;      // time units per millisecond
  std::uint64_t interval = 0;   // T, in units
  std::uint64_t capacity = 0;   // N + burst
  std::uint64_t tolerance = 0;  // (capacity - 1) * T, in units
  bool exact = true;            // false: T rounded to the nearest microsecond (see make_policy)

  friend bool operator==(const Policy& a, const Policy& b) {
    return a.requests == b.requests && a.period_ms == b.period_ms && a.burst == b.burst;
  }
  friend bool operator!=(const Policy& a, const Policy& b) { return !(a == b); }
};

// Finest time unit, 1/1000 ms: with 48-bit unit timestamps a zone's clock then lasts at least
// 2^48 / 1000 ms (8.9 years) after its creation. A rate whose exact unit would be finer (1001r/s
// needs 1/1001 ms) is counted in microseconds with T rounded to the nearest one: off by at most
// 0.5 us per request (0.05% at 1000r/s). Rates above one request per microsecond are refused.
inline constexpr std::uint64_t kMaxScale = 1000;

struct PolicyBuild {
  bool ok = false;
  Policy policy;
  std::string error;  // e.g. more than one request per microsecond, or a huge burst
};

PolicyBuild make_policy(const Rate& rate, std::uint64_t burst);

}  // namespace captain::rate_limit
