// Parsing of the caching header fields: Cache-Control (response and request), Expires, Date, Age.
//
// Plain string_views in, small plain structs out; nothing allocates. A field sent on several
// lines is parsed line by line into the same struct, which is what combining the lines with
// commas would give (RFC 9110 §5.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace captain::cache {

// RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31.
inline constexpr std::uint32_t kDeltaSecondsMax = 2147483648U;

// A delta-seconds directive argument. RFC 9111 §4.2.1: a directive given twice with different
// values, or with a value that is not an integer, is "invalid" and the response counts as stale
// (a duplicate with the same value is harmless and stays valid).
struct Delta {
  enum class State : std::uint8_t { absent, valid, invalid };
  State state = State::absent;
  std::uint32_t seconds = 0;  // meaningful when valid

  bool present() const { return state != State::absent; }
  bool valid() const { return state == State::valid; }
};

struct ResponseDirectives {
  bool no_store = false;
  // A field-name list (no-cache="Set-Cookie", private="X") is treated like the unqualified
  // directive: RFC 9111 §5.2.2.4/.7 allow that, and it is the restrictive reading.
  bool no_cache = false;
  bool is_private = false;
  bool is_public = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  Delta max_age;
  Delta s_maxage;
  Delta stale_if_error;          // RFC 5861; invalid means "not granted"
  Delta stale_while_revalidate;  // RFC 5861; parsed for completeness
};

// What a client asks for. See freshness.h (request_mode) for what the cache makes of it.
struct RequestDirectives {
  bool no_cache = false;
  bool no_store = false;
  Delta max_age;
};

// Adds one Cache-Control field line to `into`. Directive names are case-insensitive; arguments
// may be tokens or quoted-strings; elements that do not parse are skipped, except that a broken
// max-age or s-maxage makes that directive invalid, and a broken no-store, no-cache or private
// still counts (the restrictive reading of a damaged header).
void parse_response_cache_control(std::string_view line, ResponseDirectives& into);
void parse_request_cache_control(std::string_view line, RequestDirectives& into);

// An HTTP-date in any of the three RFC 9110 §5.6.7 formats, as Unix seconds:
//   IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", rfc850 "Sunday, 06-Nov-94 08:49:37 GMT",
//   asctime "Sun Nov  6 08:49:37 1994". Surrounding whitespace is allowed.
// A two-digit rfc850 year more than 50 years after `now_s` is read as the century before.
// Names are matched case-sensitively, as the grammar says; the weekday is not checked against
// the date (§5.6.7 lets recipients skip that). Years 1601..9999.
std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now_s);

// Expires (RFC 9111 §5.3): an invalid value, "0" included, means "already expired", which is
// returned as the earliest representable time.
inline constexpr std::int64_t kExpiredLongAgo = INT64_MIN;
std::int64_t parse_expires(std::string_view text, std::int64_t now_s);

// Age (RFC 9111 §5.1): the first member of a list is used; anything but a non-negative integer
// is ignored (nullopt). Huge values saturate at kDeltaSecondsMax.
std::optional<std::uint32_t> parse_age(std::string_view text);

}  // namespace captain::cache
