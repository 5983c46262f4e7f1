// Cache-Control, Expires, Date and Age parsing.
#include "ngx_module/core/cache/cache_control.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>

namespace captain::cache {
namespace {

// 2026-01-01T00:00:00Z
constexpr std::int64_t kNow = 1767225600;

ResponseDirectives response(std::string_view line) {
  ResponseDirectives d;
  parse_response_cache_control(line, d);
  return d;
}

TEST(CacheControlResponse, EmptyLineSetsNothing) {
  const ResponseDirectives d = response("");
  EXPECT_FALSE(d.no_store || d.no_cache || d.is_private || d.is_public || d.must_revalidate);
  EXPECT_FALSE(d.max_age.present());
  EXPECT_FALSE(d.s_maxage.present());
}

TEST(CacheControlResponse, BooleanDirectivesCaseInsensitive) {
  const ResponseDirectives d =
      response("No-Store, NO-CACHE,private , Public,must-revalidate,\tPROXY-revalidate");
  EXPECT_TRUE(d.no_store);
  EXPECT_TRUE(d.no_cache);
  EXPECT_TRUE(d.is_private);
  EXPECT_TRUE(d.is_public);
  EXPECT_TRUE(d.must_revalidate);
  EXPECT_TRUE(d.proxy_revalidate);
}

TEST(CacheControlResponse, DeltaSecondsTokenAndQuoted) {
  const ResponseDirectives d =
      response("max-age=60, S-MAXAGE=\"120\", stale-if-error=30, stale-while-revalidate=5");
  ASSERT_TRUE(d.max_age.valid());
  EXPECT_EQ(d.max_age.seconds, 60u);
  ASSERT_TRUE(d.s_maxage.valid());
  EXPECT_EQ(d.s_maxage.seconds, 120u);
  ASSERT_TRUE(d.stale_if_error.valid());
  EXPECT_EQ(d.stale_if_error.seconds, 30u);
  ASSERT_TRUE(d.stale_while_revalidate.valid());
  EXPECT_EQ(d.stale_while_revalidate.seconds, 5u);
}

TEST(CacheControlResponse, HugeDeltaSaturatesAt2To31) {
  const ResponseDirectives d = response("max-age=999999999999999999999999999999");
  ASSERT_TRUE(d.max_age.valid());
  EXPECT_EQ(d.max_age.seconds, kDeltaSecondsMax);
  EXPECT_EQ(response("max-age=2147483647").max_age.seconds, 2147483647u);
}

TEST(CacheControlResponse, InvalidMaxAgeValuesAreInvalid) {
  for (std::string_view line :
       {"max-age", "max-age=", "max-age=-1", "max-age=1.5", "max-age=abc", "max-age=\"\"",
        "max-age=\"6 0\"", "max-age=60 junk", "max-age=\"60"}) {
    const ResponseDirectives d = response(line);
    EXPECT_EQ(d.max_age.state, Delta::State::invalid) << line;
  }
}

TEST(CacheControlResponse, DuplicatesAgreeOrInvalidate) {
  EXPECT_TRUE(response("max-age=10, max-age=10").max_age.valid());
  EXPECT_EQ(response("max-age=10, max-age=20").max_age.state, Delta::State::invalid);
  // Invalid stays invalid even when a valid value follows.
  EXPECT_EQ(response("max-age=x, max-age=20").max_age.state, Delta::State::invalid);
}

TEST(CacheControlResponse, MultipleLinesCombine) {
  ResponseDirectives d;
  parse_response_cache_control("public", d);
  parse_response_cache_control("max-age=30", d);
  EXPECT_TRUE(d.is_public);
  ASSERT_TRUE(d.max_age.valid());
  EXPECT_EQ(d.max_age.seconds, 30u);
  parse_response_cache_control("max-age=31", d);
  EXPECT_EQ(d.max_age.state, Delta::State::invalid);
}

TEST(CacheControlResponse, QualifiedNoCacheAndPrivateCountAsUnqualified) {
  const ResponseDirectives d = response("no-cache=\"Set-Cookie, X-Foo\", private=\"a\"");
  EXPECT_TRUE(d.no_cache);
  EXPECT_TRUE(d.is_private);
  EXPECT_FALSE(d.max_age.present());
}

TEST(CacheControlResponse, CommaInsideQuotesDoesNotSplit) {
  const ResponseDirectives d = response("x-ext=\"a, no-store, b\", max-age=5");
  EXPECT_FALSE(d.no_store);
  EXPECT_TRUE(d.max_age.valid());
  EXPECT_EQ(d.max_age.seconds, 5u);
}

TEST(CacheControlResponse, DamagedRestrictiveDirectivesStillCount) {
  EXPECT_TRUE(response("no-store junk").no_store);
  EXPECT_TRUE(response("private=").is_private);
  // A damaged permissive one does not.
  EXPECT_FALSE(response("public junk").is_public);
}

TEST(CacheControlResponse, GarbageElementsAreSkipped) {
  const ResponseDirectives d = response(",,, =x, @@, \"q,\" , max-age=7 ,, no-store");
  EXPECT_TRUE(d.no_store);
  ASSERT_TRUE(d.max_age.valid());
  EXPECT_EQ(d.max_age.seconds, 7u);
}

TEST(CacheControlResponse, UnknownAndPrefixNamesIgnored) {
  const ResponseDirectives d = response("max-ages=10, no-stores, immutable");
  EXPECT_FALSE(d.max_age.present());
  EXPECT_FALSE(d.no_store);
}

TEST(CacheControlRequest, Directives) {
  RequestDirectives r;
  parse_request_cache_control("No-Cache, max-age=0", r);
  EXPECT_TRUE(r.no_cache);
  EXPECT_FALSE(r.no_store);
  ASSERT_TRUE(r.max_age.valid());
  EXPECT_EQ(r.max_age.seconds, 0u);
  parse_request_cache_control("no-store", r);
  EXPECT_TRUE(r.no_store);
}

// --- HTTP-date -----------------------------------------------------------------------------------

TEST(CacheHttpDate, ThreeFormatsOfTheRfcExample) {
  constexpr std::int64_t k1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", kNow), k1994);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", kNow), k1994);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994", kNow), k1994);
  EXPECT_EQ(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t", kNow), k1994);
}

TEST(CacheHttpDate, EpochLeapDaysAndFarFuture) {
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", kNow), 0);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 2026 00:00:00 GMT", kNow), kNow);
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT", kNow), 951825600);
  EXPECT_EQ(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT", kNow), 253402300799);
  EXPECT_EQ(parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT", kNow), -1);
  EXPECT_EQ(parse_http_date("Wed Feb 29 00:00:00 2024", kNow), 1709164800);
  EXPECT_EQ(parse_http_date("Wed Oct 15 00:00:00 2025", kNow), 1760486400);
}

TEST(CacheHttpDate, Rfc850TwoDigitYearUsesTheFiftyYearRule) {
  // From 2026: "75" would be 2075 (49 years ahead) and stays; "77" would be 2077 (51 ahead).
  EXPECT_EQ(parse_http_date("Saturday, 01-Jan-75 00:00:00 GMT", kNow),
            parse_http_date("Sat, 01 Jan 2075 00:00:00 GMT", kNow));
  EXPECT_EQ(parse_http_date("Saturday, 01-Jan-77 00:00:00 GMT", kNow),
            parse_http_date("Sat, 01 Jan 1977 00:00:00 GMT", kNow));
  EXPECT_EQ(parse_http_date("Friday, 01-Jan-26 00:00:00 GMT", kNow), kNow);
}

TEST(CacheHttpDate, RejectsMalformed) {
  for (std::string_view s : {"",
                             "0",
                             "-1",
                             "Sun, 06 Nov 1994 08:49:37",
                             "Sun, 06 Nov 1994 08:49:37 UTC",
                             "sun, 06 Nov 1994 08:49:37 GMT",
                             "Sun, 06 nov 1994 08:49:37 GMT",
                             "Sun, 6 Nov 1994 08:49:37 GMT",
                             "Sun, 31 Nov 1994 08:49:37 GMT",
                             "Sun, 29 Feb 1900 08:49:37 GMT",
                             "Sun, 06 Nov 1994 24:00:00 GMT",
                             "Sun, 06 Nov 1994 08:60:00 GMT",
                             "Sun, 06 Nov 1994 08:49:37 GMT x",
                             "Sun,06 Nov 1994 08:49:37 GMT",
                             "Sun Nov 6 08:49:37 1994",
                             "Sun Nov  6 08:49:37 94",
                             "Sunday, 06-Nov-1994 08:49:37 GMT",
                             "Sunday, 06 Nov 1994 08:49:37 GMT",
                             "Xyz, 06 Nov 1994 08:49:37 GMT",
                             "Sun, 00 Nov 1994 08:49:37 GMT",
                             "Sun, 06 Nov 0001 08:49:37 GMT"}) {
    EXPECT_FALSE(parse_http_date(s, kNow).has_value()) << s;
  }
}

TEST(CacheHttpDate, InvalidExpiresMeansLongExpired) {
  EXPECT_EQ(parse_expires("0", kNow), kExpiredLongAgo);
  EXPECT_EQ(parse_expires("-1", kNow), kExpiredLongAgo);
  EXPECT_EQ(parse_expires("Thu, 01 Jan 2026 00:01:00 GMT", kNow), kNow + 60);
}

TEST(CacheAge, FirstMemberNonNegativeInteger) {
  EXPECT_EQ(parse_age("0"), 0u);
  EXPECT_EQ(parse_age(" 42 "), 42u);
  EXPECT_EQ(parse_age("42, 7"), 42u);
  EXPECT_EQ(parse_age("99999999999999"), kDeltaSecondsMax);
  EXPECT_FALSE(parse_age("").has_value());
  EXPECT_FALSE(parse_age("-3").has_value());
  EXPECT_FALSE(parse_age("4 2").has_value());
  EXPECT_FALSE(parse_age("x, 3").has_value());
}

}  // namespace
}  // namespace captain::cache
