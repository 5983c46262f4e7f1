// libFuzzer target for the cache's header parsers: Cache-Control (response and request),
// HTTP-date / Expires, Age, Accept-Encoding and Vary.
//
// Invariants checked on every input:
//   * parsing a line twice into the same struct equals parsing it once (a repeated directive
//     agrees with itself), for both Cache-Control parsers;
//   * no-store / no-cache / private are only ever set by inputs that contain the name;
//   * every delta-seconds is at most 2^31 and an invalid one carries 0;
//   * an accepted HTTP-date, written back as an IMF-fixdate, parses to the same time, and
//     Expires is that time or "expired long ago";
//   * Age is at most 2^31; encoding sets stay within the three known codings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "ngx_module/core/cache/cache_control.h"
#include "ngx_module/core/cache/cache_key.h"

namespace {

using namespace captain::cache;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

void check(bool ok) {
  if (!ok) __builtin_trap();
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool contains_ci(std::string_view hay, std::string_view lowercase_needle) {
  if (lowercase_needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + lowercase_needle.size() <= hay.size(); ++i) {
    std::size_t j = 0;
    while (j < lowercase_needle.size() && lower(hay[i + j]) == lowercase_needle[j]) ++j;
    if (j == lowercase_needle.size()) return true;
  }
  return false;
}

bool same(const Delta& a, const Delta& b) {
  return a.state == b.state && a.seconds == b.seconds;
}

void check_delta(const Delta& d) {
  check(d.seconds <= kDeltaSecondsMax);
  if (!d.valid()) check(d.seconds == 0);
}

bool same(const ResponseDirectives& a, const ResponseDirectives& b) {
  return a.no_store == b.no_store && a.no_cache == b.no_cache && a.is_private == b.is_private &&
         a.is_public == b.is_public && a.must_revalidate == b.must_revalidate &&
         a.proxy_revalidate == b.proxy_revalidate && same(a.max_age, b.max_age) &&
         same(a.s_maxage, b.s_maxage) && same(a.stale_if_error, b.stale_if_error) &&
         same(a.stale_while_revalidate, b.stale_while_revalidate);
}

// Leap years in [1, year).
std::int64_t leaps_before(std::int64_t year) {
  const std::int64_t y = year - 1;
  return y / 4 - y / 100 + y / 400;
}

std::int64_t days_before_year(std::int64_t year) {
  return 365 * (year - 1970) + leaps_before(year) - leaps_before(1970);
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// An independent writer of IMF-fixdate for a time within years 1601..9999.
std::size_t format_imf(std::int64_t t, char* out, std::size_t size) {
  static const char* const kDays[7] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static const char* const kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::int64_t days = t / 86400;
  std::int64_t secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  std::int64_t year = 1970 + days / 366;
  while (days_before_year(year + 1) <= days) ++year;
  while (days_before_year(year) > days) --year;
  std::int64_t day_of_year = days - days_before_year(year);
  const int lengths[12] = {31, is_leap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int month = 0;
  while (day_of_year >= lengths[month]) day_of_year -= lengths[month++];
  const int weekday = static_cast<int>(((days % 7) + 7) % 7);
  const int n = std::snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[weekday],
                              static_cast<int>(day_of_year + 1), kMonths[month],
                              static_cast<int>(year), static_cast<int>(secs / 3600),
                              static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  ResponseDirectives once;
  parse_response_cache_control(input, once);
  ResponseDirectives twice = once;
  parse_response_cache_control(input, twice);
  check(same(once, twice));
  if (once.no_store) check(contains_ci(input, "no-store"));
  if (once.no_cache) check(contains_ci(input, "no-cache"));
  if (once.is_private) check(contains_ci(input, "private"));
  if (once.max_age.present()) check(contains_ci(input, "max-age"));
  check_delta(once.max_age);
  check_delta(once.s_maxage);
  check_delta(once.stale_if_error);
  check_delta(once.stale_while_revalidate);

  RequestDirectives request;
  parse_request_cache_control(input, request);
  RequestDirectives request_twice = request;
  parse_request_cache_control(input, request_twice);
  check(request.no_cache == request_twice.no_cache && request.no_store == request_twice.no_store &&
        same(request.max_age, request_twice.max_age));
  check_delta(request.max_age);

  const std::optional<std::int64_t> date = parse_http_date(input, kNow);
  const std::int64_t expires = parse_expires(input, kNow);
  if (date) {
    check(expires == *date);
    char text[64];
    const std::size_t n = format_imf(*date, text, sizeof text);
    check(n == 29);
    const std::optional<std::int64_t> again = parse_http_date(std::string_view(text, n), kNow);
    check(again.has_value() && *again == *date);
  } else {
    check(expires == kExpiredLongAgo);
  }

  const std::optional<std::uint32_t> age = parse_age(input);
  if (age) check(*age <= kDeltaSecondsMax);

  AcceptEncoding ae;
  parse_accept_encoding(input, ae);
  check((ae.set() & ~(kGzip | kBrotli | kZstd)) == 0);
  check(!normalized_accept_encoding(ae.set()).empty());

  Vary vary = Vary::none;
  parse_vary(input, vary);
  if (vary == Vary::accept_encoding) check(contains_ci(input, "accept-encoding"));
  return 0;
}
