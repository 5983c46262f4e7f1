// Storability, freshness lifetime precedence, age arithmetic, stale-if-error and request modes.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string_view>

#include "ngx_module/core/cache/freshness.h"

namespace captain::cache {
namespace {

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kMaxTime = std::numeric_limits<std::int64_t>::max();

ResponseDirectives cc(std::string_view line) {
  ResponseDirectives d;
  parse_response_cache_control(line, d);
  return d;
}

ResponseFacts facts(std::string_view cache_control = "") {
  ResponseFacts f;
  f.method = "GET";
  f.status = 200;
  f.cache_control = cc(cache_control);
  return f;
}

ResponseTimes arrived_now() {
  ResponseTimes t;
  t.request_time = kNow;
  t.response_time = kNow;
  return t;
}

// --- storable ------------------------------------------------------------------------------------

TEST(CacheStorable, PlainGet200IsStored) {
  EXPECT_EQ(storable(StorePolicy(), facts()), Verdict::store);
}

TEST(CacheStorable, MethodAndStatusMustBeConfigured) {
  StorePolicy policy;
  ResponseFacts f = facts();
  f.method = "POST";
  EXPECT_EQ(storable(policy, f), Verdict::method);
  f.method = "get";
  EXPECT_EQ(storable(policy, f), Verdict::method);
  f.method = "PURGE";
  EXPECT_EQ(storable(policy, f), Verdict::method);
  policy.methods |= kMethodPost;
  f.method = "POST";
  EXPECT_EQ(storable(policy, f), Verdict::store);

  f = facts();
  f.status = 500;
  EXPECT_EQ(storable(policy, f), Verdict::status);
  f.status = 404;
  EXPECT_EQ(storable(policy, f), Verdict::store);
  policy.statuses[0] = 500;
  policy.status_count = 1;
  EXPECT_EQ(storable(policy, f), Verdict::status);
  f.status = 500;
  EXPECT_EQ(storable(policy, f), Verdict::store);
}

TEST(CacheStorable, NoStoreAndPrivateNeverStored) {
  EXPECT_EQ(storable(StorePolicy(), facts("no-store")), Verdict::no_store);
  EXPECT_EQ(storable(StorePolicy(), facts("public, max-age=60, no-store")), Verdict::no_store);
  EXPECT_EQ(storable(StorePolicy(), facts("private, max-age=60")), Verdict::is_private);
  EXPECT_EQ(storable(StorePolicy(), facts("PRIVATE=\"x\"")), Verdict::is_private);
  // no-cache is stored (and always stale).
  EXPECT_EQ(storable(StorePolicy(), facts("no-cache")), Verdict::store);
}

TEST(CacheStorable, SetCookieOnlyWhenAllowed) {
  StorePolicy policy;
  ResponseFacts f = facts("public, max-age=60");
  f.has_set_cookie = true;
  EXPECT_EQ(storable(policy, f), Verdict::set_cookie);
  policy.allow_set_cookie = true;
  EXPECT_EQ(storable(policy, f), Verdict::store);
}

TEST(CacheStorable, AuthorizationNeedsPublicSMaxageOrMustRevalidate) {
  StorePolicy policy;
  ResponseFacts f = facts("max-age=60");
  f.request_has_authorization = true;
  EXPECT_EQ(storable(policy, f), Verdict::authorization);
  for (std::string_view line : {"public", "s-maxage=10", "must-revalidate, max-age=5"}) {
    ResponseFacts g = facts(line);
    g.request_has_authorization = true;
    EXPECT_EQ(storable(policy, g), Verdict::store) << line;
  }
  policy.allow_authorization = true;
  EXPECT_EQ(storable(policy, f), Verdict::store);
}

TEST(CacheStorable, VaryOnlyAcceptEncoding) {
  ResponseFacts f = facts();
  parse_vary("Accept-Encoding", f.vary);
  EXPECT_EQ(storable(StorePolicy(), f), Verdict::store);
  parse_vary("Cookie", f.vary);
  EXPECT_EQ(storable(StorePolicy(), f), Verdict::vary);
  ResponseFacts star = facts();
  parse_vary("*", star.vary);
  EXPECT_EQ(storable(StorePolicy(), star), Verdict::vary);
}

// --- lifetime ------------------------------------------------------------------------------------

TEST(CacheFreshness, PrecedenceSMaxageMaxAgeExpiresDefault) {
  StorePolicy policy;
  policy.default_ttl = 300;
  ResponseTimes t = arrived_now();
  t.date = kNow;
  t.expires = kNow + 1000;
  EXPECT_EQ(assess(cc("s-maxage=10, max-age=20"), t, policy).lifetime, 10u);
  EXPECT_EQ(assess(cc("max-age=20"), t, policy).lifetime, 20u);
  EXPECT_EQ(assess(cc(""), t, policy).lifetime, 1000u);
  t.expires.reset();
  EXPECT_EQ(assess(cc(""), t, policy).lifetime, 300u);
  EXPECT_EQ(assess(cc("public"), t, policy).lifetime, 300u);
  EXPECT_EQ(assess(cc("max-age=0"), t, policy).lifetime, 0u);
}

TEST(CacheFreshness, ExpiresCountsFromDateOrArrival) {
  ResponseTimes t = arrived_now();
  t.date = kNow - 100;
  t.expires = kNow + 100;
  EXPECT_EQ(assess(cc(""), t, StorePolicy()).lifetime, 200u);
  t.date.reset();
  EXPECT_EQ(assess(cc(""), t, StorePolicy()).lifetime, 100u);
  // Expires in the past or invalid ("0"): not fresh.
  t.expires = kNow - 5;
  EXPECT_EQ(assess(cc(""), t, StorePolicy()).lifetime, 0u);
  t.expires = parse_expires("0", kNow);
  EXPECT_EQ(assess(cc(""), t, StorePolicy()).lifetime, 0u);
  EXPECT_FALSE(is_fresh(deadlines(assess(cc(""), t, StorePolicy()), kNow), kNow));
}

TEST(CacheFreshness, InvalidOrConflictingMaxAgeIsAlwaysStale) {
  for (std::string_view line : {"max-age=abc", "max-age=10, max-age=20", "s-maxage=x, max-age=60",
                                "s-maxage=60, max-age=\"1"}) {
    const Freshness f = assess(cc(line), arrived_now(), StorePolicy());
    EXPECT_TRUE(f.always_stale) << line;
    EXPECT_EQ(f.lifetime, 0u) << line;
    EXPECT_FALSE(is_fresh(deadlines(f, kNow), kNow)) << line;
  }
}

TEST(CacheFreshness, NoCacheIsStoredButNeverFresh) {
  const Freshness f = assess(cc("no-cache, max-age=600"), arrived_now(), StorePolicy());
  EXPECT_TRUE(f.always_stale);
  const Deadlines d = deadlines(f, kNow);
  EXPECT_FALSE(is_fresh(d, kNow));
  EXPECT_FALSE(is_fresh(d, kNow - 1000));
  EXPECT_FALSE(usable_on_error(d, kNow));
}

TEST(CacheFreshness, FreshUntilSubtractsInitialAge) {
  ResponseTimes t = arrived_now();
  t.age = 15;
  const Freshness f = assess(cc("max-age=60"), t, StorePolicy());
  EXPECT_EQ(f.initial_age, 15u);
  const Deadlines d = deadlines(f, kNow);
  EXPECT_EQ(d.fresh_until, kNow + 45);
  EXPECT_TRUE(is_fresh(d, kNow + 44));
  EXPECT_FALSE(is_fresh(d, kNow + 45));
  // Older than its lifetime on arrival: stale at once.
  t.age = 100;
  EXPECT_FALSE(is_fresh(deadlines(assess(cc("max-age=60"), t, StorePolicy()), kNow), kNow));
}

TEST(CacheFreshness, HugeValuesSaturate) {
  ResponseTimes t = arrived_now();
  t.age = kDeltaSecondsMax;
  t.request_time = std::numeric_limits<std::int64_t>::min();
  EXPECT_GT(corrected_initial_age(t), 0u);
  StorePolicy policy;
  policy.default_ttl = UINT32_MAX;
  policy.stale_if_error = UINT32_MAX;
  Freshness f =
      assess(cc("max-age=99999999999999999999, stale-if-error=99999999999"), arrived_now(), policy);
  EXPECT_EQ(f.lifetime, kDeltaSecondsMax);
  Deadlines d = deadlines(f, kMaxTime - 10);
  EXPECT_EQ(d.fresh_until, kMaxTime);
  EXPECT_EQ(d.stale_until, kMaxTime);
  EXPECT_TRUE(is_fresh(d, kMaxTime - 1));
  f.lifetime = std::numeric_limits<std::uint64_t>::max();
  d = deadlines(f, kNow);
  EXPECT_EQ(d.fresh_until, kMaxTime);
  ResponseTimes far = arrived_now();
  far.expires = kMaxTime;
  far.date = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(assess(cc(""), far, StorePolicy()).lifetime, std::numeric_limits<std::uint64_t>::max());
}

// --- age -----------------------------------------------------------------------------------------

TEST(CacheAge, CorrectedInitialAgePerRfc9111) {
  ResponseTimes t;
  t.request_time = kNow - 3;
  t.response_time = kNow;
  // apparent_age = 10 (Date 10 s before arrival), corrected_age_value = 4 + 3.
  t.date = kNow - 10;
  t.age = 4;
  EXPECT_EQ(corrected_initial_age(t), 10u);
  // A large upstream Age wins: 30 + 3.
  t.age = 30;
  EXPECT_EQ(corrected_initial_age(t), 33u);
  // A Date in the future (clock skew) does not make the age negative.
  t.date = kNow + 500;
  t.age.reset();
  EXPECT_EQ(corrected_initial_age(t), 3u);
  t.request_time = kNow + 5;  // clocks stepping backwards
  EXPECT_EQ(corrected_initial_age(t), 0u);
}

TEST(CacheAge, CurrentAgeAddsResidentTime) {
  EXPECT_EQ(current_age(7, kNow, kNow), 7u);
  EXPECT_EQ(current_age(7, kNow, kNow + 60), 67u);
  EXPECT_EQ(current_age(7, kNow, kNow - 60), 7u);
  EXPECT_EQ(current_age(kDeltaSecondsMax, kNow, kMaxTime), kDeltaSecondsMax);
}

// --- stale-if-error ------------------------------------------------------------------------------

TEST(CacheStaleIfError, WindowStartsWhenTheEntryGoesStale) {
  const Freshness f = assess(cc("max-age=60, stale-if-error=120"), arrived_now(), StorePolicy());
  EXPECT_EQ(f.stale_if_error, 120u);
  const Deadlines d = deadlines(f, kNow);
  EXPECT_EQ(d.fresh_until, kNow + 60);
  EXPECT_EQ(d.stale_until, kNow + 180);
  EXPECT_TRUE(usable_on_error(d, kNow + 179));
  EXPECT_FALSE(usable_on_error(d, kNow + 180));
}

TEST(CacheStaleIfError, PolicyDefaultAndWhatForbidsIt) {
  StorePolicy policy;
  policy.stale_if_error = 30;
  EXPECT_EQ(assess(cc("max-age=60"), arrived_now(), policy).stale_if_error, 30u);
  EXPECT_EQ(assess(cc("max-age=60, stale-if-error=5"), arrived_now(), policy).stale_if_error, 5u);
  EXPECT_EQ(assess(cc("max-age=60, stale-if-error=x"), arrived_now(), policy).stale_if_error, 0u);
  for (std::string_view line :
       {"max-age=60, must-revalidate, stale-if-error=5", "proxy-revalidate, stale-if-error=5",
        "no-cache, stale-if-error=5", "s-maxage=60"}) {
    EXPECT_EQ(assess(cc(line), arrived_now(), policy).stale_if_error, 0u) << line;
  }
  EXPECT_EQ(assess(cc("s-maxage=60, stale-if-error=9"), arrived_now(), policy).stale_if_error, 9u);
  // Without any window the deadline is the freshness deadline.
  const Deadlines d = deadlines(assess(cc("max-age=60"), arrived_now(), StorePolicy()), kNow);
  EXPECT_EQ(d.stale_until, d.fresh_until);
}

TEST(CacheStaleIfError, InvalidMaxAgeStillGetsItsWindowFromArrival) {
  const Deadlines d =
      deadlines(assess(cc("max-age=x, stale-if-error=50"), arrived_now(), StorePolicy()), kNow);
  EXPECT_FALSE(is_fresh(d, kNow));
  EXPECT_EQ(d.stale_until, kNow + 50);
}

// --- request ------------------------------------------------------------------------------------

RequestDirectives rq(std::string_view line) {
  RequestDirectives r;
  parse_request_cache_control(line, r);
  return r;
}

TEST(CacheRequestMode, Policy) {
  EXPECT_EQ(request_mode(rq("")), RequestMode::normal);
  EXPECT_EQ(request_mode(rq("max-age=10")), RequestMode::normal);
  EXPECT_EQ(request_mode(rq("no-cache")), RequestMode::refresh);
  EXPECT_EQ(request_mode(rq("max-age=0")), RequestMode::refresh);
  EXPECT_EQ(request_mode(rq("no-store")), RequestMode::bypass);
  EXPECT_EQ(request_mode(rq("no-cache, no-store")), RequestMode::bypass);
  EXPECT_EQ(request_mode(rq("max-age=zz")), RequestMode::normal);
}

TEST(CacheRequestMode, MaxAgeLimitsTheAgeOfAHit) {
  EXPECT_TRUE(request_accepts(rq(""), 1'000'000));
  EXPECT_TRUE(request_accepts(rq("max-age=10"), 10));
  EXPECT_FALSE(request_accepts(rq("max-age=10"), 11));
}

}  // namespace
}  // namespace captain::cache
