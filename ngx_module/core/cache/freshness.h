// The cache's HTTP decisions: may a response be stored, how long is it fresh, how old is it,
// how long may it be served stale on upstream errors, and what a client's own Cache-Control
// asks for. Times are Unix seconds passed in by the caller (no clock is read here); all
// arithmetic saturates, so max-age=2^31 or an Expires in year 9999 cannot overflow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "ngx_module/core/cache/cache_control.h"
#include "ngx_module/core/cache/cache_key.h"

namespace captain::cache {

// Methods as a bit set (`captain_cache ... methods=GET HEAD`).
inline constexpr std::uint32_t kMethodGet = 1;
inline constexpr std::uint32_t kMethodHead = 2;
inline constexpr std::uint32_t kMethodPost = 4;
// The bit of a method name (case-sensitive, as methods are); 0 for any other method.
std::uint32_t method_bit(std::string_view method);

inline constexpr std::size_t kMaxStatuses = 16;

// The location's configuration.
struct StorePolicy {
  std::uint32_t methods = kMethodGet | kMethodHead;
  std::uint16_t statuses[kMaxStatuses] = {200, 301, 404};
  std::size_t status_count = 3;
  bool allow_set_cookie = false;
  bool allow_authorization = false;
  std::uint32_t default_ttl = 300;   // seconds, for responses without explicit freshness
  std::uint32_t stale_if_error = 0;  // seconds, when the response grants none itself
};

bool status_listed(const StorePolicy& policy, unsigned status);

// What the glue knows about an exchange when the response headers arrive.
struct ResponseFacts {
  std::string_view method;
  unsigned status = 0;
  bool request_has_authorization = false;
  bool has_set_cookie = false;
  ResponseDirectives cache_control;
  Vary vary = Vary::none;
};

enum class Verdict : std::uint8_t {
  store = 0,
  method,         // not a configured method
  status,         // not a configured status
  no_store,       // Cache-Control: no-store
  is_private,     // Cache-Control: private
  vary,           // Vary on anything but Accept-Encoding (or "*")
  set_cookie,     // Set-Cookie, not allowed by configuration
  authorization,  // request had Authorization, response does not allow sharing it
};

// RFC 9111 §3 for a shared cache, narrowed by the policy. A request with Authorization may be
// stored (when not allowed by configuration) only if the response says public, s-maxage or
// must-revalidate (§3.5).
Verdict storable(const StorePolicy& policy, const ResponseFacts& facts);

// The time-related header values of a response, and when it was requested and received.
struct ResponseTimes {
  std::int64_t request_time = 0;        // when the request went upstream
  std::int64_t response_time = 0;       // when the response headers arrived
  std::optional<std::int64_t> date;     // parse_http_date(Date), nullopt if absent or invalid
  std::optional<std::int64_t> expires;  // parse_expires(Expires), nullopt if absent
  std::optional<std::uint32_t> age;     // parse_age(Age)
};

struct Freshness {
  std::uint64_t lifetime = 0;        // seconds fresh after the response was generated
  std::uint64_t initial_age = 0;     // RFC 9111 §4.2.3 corrected_initial_age
  std::uint64_t stale_if_error = 0;  // seconds it may be served stale on upstream errors
  // no-cache, or an invalid/conflicting max-age or s-maxage (§4.2.1): stored, but never fresh,
  // so every request goes upstream (an EXPIRED, which refreshes the entry).
  bool always_stale = false;
};

// Lifetime precedence: s-maxage > max-age > Expires − Date (Date absent: response_time) >
// policy.default_ttl. Any invalid s-maxage or max-age makes the response always stale.
//
// stale-if-error window: the response's own stale-if-error, else the policy's; none when the
// response says no-cache, must-revalidate or proxy-revalidate (§4.2.4: those forbid serving
// stale), and for an s-maxage response (which implies proxy-revalidate, §5.2.2.10) only its
// explicit stale-if-error counts. An invalid stale-if-error grants nothing.
Freshness assess(const ResponseDirectives& cc, const ResponseTimes& times,
                 const StorePolicy& policy);

// RFC 9111 §4.2.3 corrected_initial_age from Date, Age and the request/response times.
std::uint64_t corrected_initial_age(const ResponseTimes& times);

// Absolute deadlines for the store (EntryMeta): fresh while now < fresh_until, servable on
// upstream errors while now < stale_until.
struct Deadlines {
  std::int64_t fresh_until = 0;
  std::int64_t stale_until = 0;
};
Deadlines deadlines(const Freshness& freshness, std::int64_t response_time);

// The Age to send on a hit: initial age plus the time resident in the cache (never negative,
// saturating at kDeltaSecondsMax as §1.2.2 allows).
std::uint64_t current_age(std::uint64_t initial_age, std::int64_t response_time, std::int64_t now);

inline bool is_fresh(const Deadlines& d, std::int64_t now) {
  return now < d.fresh_until;
}
inline bool usable_on_error(const Deadlines& d, std::int64_t now) {
  return now < d.stale_until;
}

// A client's Cache-Control. The policy chosen here:
//   * no-store: bypass — neither served from nor stored into the cache (BYPASS);
//   * no-cache or max-age=0: refresh — not served from the cache, but the upstream response
//     is stored as usual, so a client's reload refreshes the entry for everyone (the entry may
//     be fetched upstream by any client anyway, so this grants no extra power);
//   * max-age=N > 0: a hit only if the entry's current age is at most N (request_accepts);
//   * anything else (max-stale, min-fresh, only-if-cached, Pragma) is ignored.
enum class RequestMode : std::uint8_t { normal = 0, refresh, bypass };
RequestMode request_mode(const RequestDirectives& rd);
bool request_accepts(const RequestDirectives& rd, std::uint64_t age);

}  // namespace captain::cache
