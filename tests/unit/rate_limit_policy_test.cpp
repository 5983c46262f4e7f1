// parse_rate and make_policy: accepted spellings, rejected ones, exact GCRA parameters.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "ngx_module/core/rate_limit/policy.h"

namespace captain::rate_limit {
namespace {

constexpr std::string_view kSyntax = "expected <N>r/<period>, e.g. 100r/m or 5r/15m";
constexpr std::string_view kRequests = "the number of requests must be between 1 and 10000000";
constexpr std::string_view kPeriod = "the period must be between 1ms and 1d";
constexpr std::string_view kUnit = "the period's unit must be ms, s, m, h or d";

void expect_rate(std::string_view text, std::uint64_t requests, std::uint64_t period_ms) {
  const RateParse parsed = parse_rate(text);
  ASSERT_TRUE(parsed.ok) << text << ": " << parsed.error;
  EXPECT_EQ(parsed.rate.requests, requests) << text;
  EXPECT_EQ(parsed.rate.period_ms, period_ms) << text;
  EXPECT_EQ(parsed.error, "") << text;
}

Policy build(std::uint64_t requests, std::uint64_t period_ms, std::uint64_t burst) {
  const PolicyBuild built = make_policy(Rate{requests, period_ms}, burst);
  EXPECT_TRUE(built.ok) << built.error;
  return built.policy;
}

TEST(ParseRate, AcceptsTheDocumentedSpellingsWithExactFields) {
  expect_rate("20r/s", 20, 1'000);
  expect_rate("100r/m", 100, 60'000);
  expect_rate("5000r/m", 5000, 60'000);
  expect_rate("5r/15m", 5, 900'000);
  expect_rate("1r/d", 1, 86'400'000);
  expect_rate("10r/500ms", 10, 500);
  expect_rate("3r/h", 3, 3'600'000);
  expect_rate("7r/ms", 7, 1);
}

TEST(ParseRate, AcceptsTheBounds) {
  expect_rate("1r/1ms", 1, 1);
  expect_rate("10000000r/s", 10'000'000, 1'000);
  expect_rate("1r/24h", 1, 86'400'000);
  expect_rate("1r/86400000ms", 1, 86'400'000);
  expect_rate("1r/1440m", 1, 86'400'000);
}

TEST(ParseRate, RejectsMalformedTextWithTheSyntaxMessage) {
  for (std::string_view text : {"", "r/s", "10", "10r", "10r/", "10/s", "10rs", "10 r/s", " 10r/s",
                                "-1r/s", "+1r/s", "1.5r/s", "abc", "10R/s", "10r\\s", "r/"}) {
    const RateParse parsed = parse_rate(text);
    EXPECT_FALSE(parsed.ok) << '"' << text << '"';
    EXPECT_EQ(parsed.error, kSyntax) << '"' << text << '"';
  }
}

TEST(ParseRate, RejectsUnknownUnitsWithTheUnitMessage) {
  for (std::string_view text : {"10r/x", "10r/sec", "10r/S", "10r/15", "10r/s ", "10r/ s",
                                "10r/-5m", "10r/+5m", "10r/5 m", "10r/mss", "10r/1.5s", "10r/us"}) {
    const RateParse parsed = parse_rate(text);
    EXPECT_FALSE(parsed.ok) << '"' << text << '"';
    EXPECT_EQ(parsed.error, kUnit) << '"' << text << '"';
  }
}

TEST(ParseRate, RejectsRequestCountsOutOfRange) {
  for (std::string_view text : {"0r/s", "00r/m", "10000001r/s", "99999999999999999999999999r/s",
                                "18446744073709551616r/s"}) {
    const RateParse parsed = parse_rate(text);
    EXPECT_FALSE(parsed.ok) << text;
    EXPECT_EQ(parsed.error, kRequests) << text;
  }
}

TEST(ParseRate, RejectsPeriodsOutOfRange) {
  for (std::string_view text :
       {"10r/0s", "10r/0ms", "10r/2d", "10r/25h", "10r/1441m", "10r/86400001ms",
        "10r/99999999999999999999999d", "10r/18446744073709551616ms"}) {
    const RateParse parsed = parse_rate(text);
    EXPECT_FALSE(parsed.ok) << text;
    EXPECT_EQ(parsed.error, kPeriod) << text;
  }
}

TEST(MakePolicy, ThreePerSecondCountsThirdsOfAMillisecond) {
  const Policy p = build(3, 1'000, 0);
  EXPECT_EQ(p.scale, 3u);
  EXPECT_EQ(p.interval, 1'000u);  // 1000 units of 1/3 ms = 333.33.. ms, exactly
  EXPECT_EQ(p.capacity, 3u);
  EXPECT_EQ(p.tolerance, 2'000u);
}

TEST(MakePolicy, TwentyPerSecondIsFiftyMilliseconds) {
  const Policy p = build(20, 1'000, 5);
  EXPECT_EQ(p.requests, 20u);
  EXPECT_EQ(p.period_ms, 1'000u);
  EXPECT_EQ(p.burst, 5u);
  EXPECT_EQ(p.scale, 1u);
  EXPECT_EQ(p.interval, 50u);
  EXPECT_EQ(p.capacity, 25u);
  EXPECT_EQ(p.tolerance, 24u * 50u);
}

TEST(MakePolicy, FivePerFifteenMinutesIsThreeMinutes) {
  const Policy p = build(5, 900'000, 0);
  EXPECT_EQ(p.scale, 1u);
  EXPECT_EQ(p.interval, 180'000u);
  EXPECT_EQ(p.capacity, 5u);
  EXPECT_EQ(p.tolerance, 4u * 180'000u);
}

TEST(MakePolicy, SevenPerSecondNeedsSevenUnitsPerMillisecond) {
  const Policy p = build(7, 1'000, 0);
  EXPECT_EQ(p.scale, 7u);
  EXPECT_EQ(p.interval, 1'000u);
}

TEST(MakePolicy, PoliciesCompareByRateAndBurst) {
  EXPECT_EQ(build(20, 1'000, 5), build(20, 1'000, 5));
  EXPECT_NE(build(20, 1'000, 5), build(20, 1'000, 6));
  EXPECT_NE(build(20, 1'000, 5), build(40, 2'000, 5));
}

TEST(MakePolicy, ExactRatesSayTheyAreExact) {
  EXPECT_TRUE(build(3, 1'000, 0).exact);
  EXPECT_TRUE(build(1'000, 1'000, 0).exact);
  const Policy per_microsecond = build(1'000'000, 1'000, 0);  // the finest exact rate
  EXPECT_TRUE(per_microsecond.exact);
  EXPECT_EQ(per_microsecond.scale, 1'000u);
  EXPECT_EQ(per_microsecond.interval, 1u);
}

TEST(MakePolicy, TooFineARateIsRoundedToTheNearestMicrosecond) {
  // 1001r/s would need units of 1/1001 ms; T = 999.001 us rounds to 999.
  const Policy p = build(1'001, 1'000, 0);
  EXPECT_FALSE(p.exact);
  EXPECT_EQ(p.scale, 1'000u);
  EXPECT_EQ(p.interval, 999u);
  EXPECT_EQ(p.tolerance, 1'000u * 999u);
  // 5000r/997ms: T = 199.4 us rounds to 199.
  const Policy odd = build(5'000, 997, 0);
  EXPECT_FALSE(odd.exact);
  EXPECT_EQ(odd.scale, 1'000u);
  EXPECT_EQ(odd.interval, 199u);
  // 1999r/s: T = 500.25 us rounds to 500.
  EXPECT_EQ(build(1'999, 1'000, 0).interval, 500u);
}

TEST(MakePolicy, RejectsMoreThanOneRequestPerMicrosecond) {
  for (const Rate rate :
       {Rate{10'000'000, 1'000}, Rate{2'000'000, 1'000}, Rate{1'000'001, 1'000}, Rate{1'001, 1}}) {
    const PolicyBuild built = make_policy(rate, 0);
    EXPECT_FALSE(built.ok) << rate.requests << "r/" << rate.period_ms << "ms";
    EXPECT_NE(built.error.find("more than one request per microsecond"), std::string::npos)
        << built.error;
  }
  EXPECT_NE(make_policy(Rate{2'000'000, 1'000}, 0).error.find("2000000r/s"), std::string::npos);
  EXPECT_TRUE(make_policy(Rate{1'000, 1}, 0).ok);
}

TEST(MakePolicy, RejectsABurstThatOverflowsTheTimeSpan) {
  // 1r/d: T = 86,400,000 units; (1 + burst) * T must stay below 2^40 = 1,099,511,627,776.
  const PolicyBuild built = make_policy(Rate{1, 86'400'000}, 20'000);
  EXPECT_FALSE(built.ok);
  EXPECT_NE(built.error.find("2^40"), std::string::npos) << built.error;
  EXPECT_NE(built.error.find("largest burst is 12724"), std::string::npos) << built.error;
  EXPECT_TRUE(make_policy(Rate{1, 86'400'000}, 12'724).ok);
  EXPECT_FALSE(make_policy(Rate{1, 86'400'000}, 12'725).ok);
}

TEST(MakePolicy, RejectsOutOfRangeInputs) {
  EXPECT_FALSE(make_policy(Rate{0, 1'000}, 0).ok);
  EXPECT_FALSE(make_policy(Rate{10'000'001, 1'000}, 0).ok);
  EXPECT_FALSE(make_policy(Rate{1, 0}, 0).ok);
  EXPECT_FALSE(make_policy(Rate{1, 86'400'001}, 0).ok);
  const PolicyBuild burst = make_policy(Rate{1, 1'000}, 10'000'001);
  EXPECT_FALSE(burst.ok);
  EXPECT_EQ(burst.error, "the burst must be between 0 and 10000000");
  EXPECT_TRUE(make_policy(Rate{1, 1'000}, 10'000'000).ok);
}

}  // namespace
}  // namespace captain::rate_limit
