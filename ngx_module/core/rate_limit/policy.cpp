// Parses "N r/P" rates and turns them into exact integer GCRA parameters (config time only).
#include "ngx_module/core/rate_limit/policy.h"

#include <cstddef>
#include <iterator>
#include <numeric>
#include <string>

namespace captain::rate_limit {

namespace {

constexpr std::string_view kSyntaxError = "expected <N>r/<period>, e.g. 100r/m or 5r/15m";
constexpr std::string_view kRequestsError = "the number of requests must be between 1 and 10000000";
constexpr std::string_view kPeriodError = "the period must be between 1ms and 1d";
constexpr std::string_view kUnitError = "the period's unit must be ms, s, m, h or d";
constexpr std::string_view kBurstError = "the burst must be between 0 and 10000000";

// capacity * T must stay below this many units: a key's tat is then at most 2^40 units ahead of
// the zone clock, far inside the 48 bits a slot stores it in.
constexpr std::uint64_t kMaxSpanUnits = std::uint64_t{1} << 40;

struct Unit {
  std::string_view name;
  std::uint64_t ms;
};

// Smallest first: format_period walks them backwards to find the largest exact unit. (Parsing
// matches the whole rest of the text, so "ms" and "m" cannot be confused.)
constexpr Unit kUnits[] = {
    {"ms", 1}, {"s", 1'000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
};

struct Number {
  std::uint64_t value = 0;
  std::size_t digits = 0;
};

// Reads decimal digits at `pos`. Saturates instead of overflowing: the caller's range check then
// rejects the value, so "99999999999999999999r/s" gets the range message, not a wrong rate.
Number read_number(std::string_view text, std::size_t& pos) {
  constexpr std::uint64_t kSaturated = ~std::uint64_t{0};
  Number n;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[pos] - '0');
    n.value = n.value > (kSaturated - digit) / 10 ? kSaturated : n.value * 10 + digit;
    ++pos;
    ++n.digits;
  }
  return n;
}

// The period as the parser would accept it, in its largest exact unit: 900000 -> "15m".
std::string format_period(std::uint64_t period_ms) {
  for (std::size_t i = std::size(kUnits); i-- > 0;) {
    const Unit& unit = kUnits[i];
    if (period_ms % unit.ms != 0) continue;
    const std::uint64_t count = period_ms / unit.ms;
    return (count == 1 ? std::string() : std::to_string(count)) + std::string(unit.name);
  }
  return std::to_string(period_ms) + "ms";
}

std::string format_rate(std::uint64_t requests, std::uint64_t period_ms) {
  return std::to_string(requests) + "r/" + format_period(period_ms);
}

}  // namespace

RateParse parse_rate(std::string_view text) {
  RateParse out;
  std::size_t pos = 0;
  const Number requests = read_number(text, pos);
  if (requests.digits == 0 || text.substr(pos, 2) != "r/") {
    out.error = kSyntaxError;
    return out;
  }
  pos += 2;
  const Number count = read_number(text, pos);
  const std::string_view unit_name = text.substr(pos);
  if (count.digits == 0 && unit_name.empty()) {
    out.error = kSyntaxError;
    return out;
  }
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    if (u.name == unit_name) unit = &u;
  }
  if (unit == nullptr) {
    out.error = kUnitError;
    return out;
  }
  if (requests.value < 1 || requests.value > kMaxRequests) {
    out.error = kRequestsError;
    return out;
  }
  const std::uint64_t multiplier = count.digits == 0 ? 1 : count.value;
  // Dividing instead of multiplying keeps a saturated count from overflowing.
  if (multiplier < 1 || multiplier > kMaxPeriodMs / unit->ms) {
    out.error = kPeriodError;
    return out;
  }
  out.ok = true;
  out.rate.requests = requests.value;
  out.rate.period_ms = multiplier * unit->ms;
  return out;
}

PolicyBuild make_policy(const Rate& rate, std::uint64_t burst) {
  PolicyBuild out;
  if (rate.requests < 1 || rate.requests > kMaxRequests) {
    out.error = kRequestsError;
    return out;
  }
  if (rate.period_ms < 1 || rate.period_ms > kMaxPeriodMs) {
    out.error = kPeriodError;
    return out;
  }
  if (burst > kMaxBurst) {
    out.error = kBurstError;
    return out;
  }
  const std::uint64_t divisor = std::gcd(rate.requests, rate.period_ms);
  std::uint64_t scale = rate.requests / divisor;
  std::uint64_t interval = rate.period_ms / divisor;
  bool exact = true;
  if (scale > kMaxScale) {
    // Exact units would be finer than a microsecond (e.g. 1001r/s): count in microseconds and
    // round the interval to the nearest one, off by at most 0.5 us per request.
    scale = kMaxScale;
    interval = (rate.period_ms * kMaxScale + rate.requests / 2) / rate.requests;
    exact = false;
    if (rate.requests > rate.period_ms * kMaxScale) {
      out.error = format_rate(rate.requests, rate.period_ms) +
                  " is more than one request per microsecond (1000000r/s), the finest rate "
                  "supported";
      return out;
    }
  }
  // No overflow: capacity <= 2 * 10^7 and interval <= 8.64 * 10^7.
  const std::uint64_t capacity = rate.requests + burst;
  if (capacity * interval >= kMaxSpanUnits) {
    // Burst 0 always fits (N * T = scale * P_ms <= 8.64 * 10^10 < 2^40), so this is positive.
    const std::uint64_t largest_burst = (kMaxSpanUnits - 1) / interval - rate.requests;
    out.error = "the burst is too large for " + format_rate(rate.requests, rate.period_ms) +
                ": (N + burst) x interval must stay below 2^40 time units; the largest burst is " +
                std::to_string(largest_burst);
    return out;
  }
  out.ok = true;
  out.policy.requests = rate.requests;
  out.policy.period_ms = rate.period_ms;
  out.policy.burst = burst;
  out.policy.scale = scale;
  out.policy.interval = interval;
  out.policy.capacity = capacity;
  out.policy.tolerance = (capacity - 1) * interval;
  out.policy.exact = exact;
  return out;
}

}  // namespace captain::rate_limit
