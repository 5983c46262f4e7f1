// Storability, freshness lifetime, age and stale-if-error arithmetic (RFC 9111, RFC 5861).
#include "ngx_module/core/cache/freshness.h"

#include <algorithm>
#include <limits>

namespace captain::cache {

namespace {

constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMinTime = std::numeric_limits<std::int64_t>::min();

// a - b for a >= b, as an unsigned count; 0 when a < b. Never overflows: the difference of two
// int64 values fits in uint64.
std::uint64_t seconds_after(std::int64_t a, std::int64_t b) {
  if (a <= b) return 0;
  return static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b);
}

std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

// t + d, saturating at the largest time.
std::int64_t later(std::int64_t t, std::uint64_t d) {
  const std::uint64_t room = seconds_after(kMaxTime, t);
  if (d >= room) return kMaxTime;
  return t + static_cast<std::int64_t>(d);
}

}  // namespace

std::uint32_t method_bit(std::string_view method) {
  if (method == "GET") return kMethodGet;
  if (method == "HEAD") return kMethodHead;
  if (method == "POST") return kMethodPost;
  return 0;
}

bool status_listed(const StorePolicy& policy, unsigned status) {
  const std::size_t n = std::min(policy.status_count, kMaxStatuses);
  for (std::size_t i = 0; i < n; ++i) {
    if (policy.statuses[i] == status) return true;
  }
  return false;
}

Verdict storable(const StorePolicy& policy, const ResponseFacts& facts) {
  const ResponseDirectives& cc = facts.cache_control;
  if ((method_bit(facts.method) & policy.methods) == 0) return Verdict::method;
  if (!status_listed(policy, facts.status)) return Verdict::status;
  if (cc.no_store) return Verdict::no_store;
  if (cc.is_private) return Verdict::is_private;
  if (facts.vary == Vary::other) return Verdict::vary;
  if (facts.has_set_cookie && !policy.allow_set_cookie) return Verdict::set_cookie;
  if (facts.request_has_authorization && !policy.allow_authorization &&
      !(cc.is_public || cc.s_maxage.present() || cc.must_revalidate)) {
    return Verdict::authorization;
  }
  return Verdict::store;
}

std::uint64_t corrected_initial_age(const ResponseTimes& times) {
  // Without a Date the response was generated when it arrived (§4.2.3: date_value).
  const std::uint64_t apparent_age =
      times.date ? seconds_after(times.response_time, *times.date) : 0;
  const std::uint64_t response_delay = seconds_after(times.response_time, times.request_time);
  const std::uint64_t corrected_age_value = sat_add(times.age.value_or(0), response_delay);
  return std::max(apparent_age, corrected_age_value);
}

Freshness assess(const ResponseDirectives& cc, const ResponseTimes& times,
                 const StorePolicy& policy) {
  Freshness f;
  f.initial_age = corrected_initial_age(times);
  const bool invalid =
      cc.s_maxage.state == Delta::State::invalid || cc.max_age.state == Delta::State::invalid;
  f.always_stale = cc.no_cache || invalid;
  if (invalid) {
    f.lifetime = 0;
  } else if (cc.s_maxage.valid()) {
    f.lifetime = cc.s_maxage.seconds;
  } else if (cc.max_age.valid()) {
    f.lifetime = cc.max_age.seconds;
  } else if (times.expires) {
    f.lifetime = seconds_after(*times.expires, times.date.value_or(times.response_time));
  } else {
    f.lifetime = policy.default_ttl;
  }
  if (f.always_stale) f.lifetime = 0;

  const bool forbids_stale = cc.no_cache || cc.must_revalidate || cc.proxy_revalidate;
  if (!forbids_stale) {
    if (cc.stale_if_error.present()) {
      f.stale_if_error = cc.stale_if_error.valid() ? cc.stale_if_error.seconds : 0;
    } else if (!cc.s_maxage.present()) {
      f.stale_if_error = policy.stale_if_error;
    }
  }
  return f;
}

Deadlines deadlines(const Freshness& freshness, std::int64_t response_time) {
  Deadlines d;
  // Fresh for what is left of the lifetime after the age it arrived with.
  if (freshness.always_stale) {
    d.fresh_until = kMinTime;
  } else {
    const std::uint64_t left =
        freshness.lifetime > freshness.initial_age ? freshness.lifetime - freshness.initial_age : 0;
    d.fresh_until = later(response_time, left);
  }
  // The stale-if-error window counts from the moment it went stale.
  d.stale_until = freshness.stale_if_error == 0
                      ? d.fresh_until
                      : later(std::max(d.fresh_until, response_time), freshness.stale_if_error);
  return d;
}

std::uint64_t current_age(std::uint64_t initial_age, std::int64_t response_time, std::int64_t now) {
  const std::uint64_t age = sat_add(initial_age, seconds_after(now, response_time));
  return std::min<std::uint64_t>(age, kDeltaSecondsMax);
}

RequestMode request_mode(const RequestDirectives& rd) {
  if (rd.no_store) return RequestMode::bypass;
  if (rd.no_cache || (rd.max_age.valid() && rd.max_age.seconds == 0)) return RequestMode::refresh;
  return RequestMode::normal;
}

bool request_accepts(const RequestDirectives& rd, std::uint64_t age) {
  return !rd.max_age.valid() || age <= rd.max_age.seconds;
}

}  // namespace captain::cache
