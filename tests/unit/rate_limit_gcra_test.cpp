// GCRA exactness on a simulated clock (in policy units) and the response-header arithmetic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "ngx_module/core/rate_limit/gcra.h"
#include "ngx_module/core/rate_limit/policy.h"

namespace captain::rate_limit {
namespace {

Policy build(std::uint64_t requests, std::uint64_t period_ms, std::uint64_t burst) {
  const PolicyBuild built = make_policy(Rate{requests, period_ms}, burst);
  EXPECT_TRUE(built.ok) << built.error;
  return built.policy;
}

// One key on a simulated clock: charges like check(..., charge = true) would.
struct Client {
  const Policy& policy;
  std::uint64_t tat = 0;

  Decision send(std::uint64_t now) {
    const Decision d = decide(policy, tat, now, true);
    tat = d.tat;
    return d;
  }
};

// --- exactness --------------------------------------------------------------------------------

TEST(Gcra, BurstOfExactlyCapacityPassesThenRejects) {
  const Policy p = build(20, 1'000, 5);  // T = 50, capacity 25
  Client client{p};
  const std::uint64_t now = 10'000;
  for (std::uint64_t i = 0; i < p.capacity; ++i) {
    const Decision d = client.send(now);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, p.capacity - 1 - i) << i;
    EXPECT_EQ(d.retry_after, 0u);
  }
  const Decision rejected = client.send(now);
  EXPECT_FALSE(rejected.allowed);
  EXPECT_EQ(rejected.remaining, 0u);
  EXPECT_EQ(rejected.retry_after, p.interval);
  EXPECT_EQ(rejected.reset, p.capacity * p.interval);
}

TEST(Gcra, ClockNotAdvancingKeepsRejectingWithoutChangingState) {
  const Policy p = build(3, 1'000, 0);
  Client client{p};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.send(0).allowed);
  const std::uint64_t full_tat = client.tat;
  for (int i = 0; i < 1'000; ++i) {
    const Decision d = client.send(0);
    ASSERT_FALSE(d.allowed);
    ASSERT_EQ(d.tat, full_tat);
    ASSERT_EQ(d.retry_after, p.interval);
  }
}

TEST(Gcra, SteadyStreamAtExactlyTheRatePassesForever) {
  for (const Policy& p : {build(3, 1'000, 0), build(5, 900'000, 2), build(1, 1, 0)}) {
    Client client{p};
    for (std::uint64_t k = 0; k < 100'000; ++k) {
      const Decision d = client.send(1 + k * p.interval);
      ASSERT_TRUE(d.allowed) << k;
      ASSERT_EQ(d.remaining, p.capacity - 1) << k;
    }
  }
}

TEST(Gcra, AfterABurstTheExactRatePassesAndOneUnitEarlyIsRejected) {
  const Policy p = build(3, 1'000, 1);  // T = 1000 units of 1/3 ms, capacity 4
  Client client{p};
  for (std::uint64_t i = 0; i < p.capacity; ++i) ASSERT_TRUE(client.send(0).allowed);
  for (std::uint64_t k = 1; k <= 10'000; ++k) {
    const std::uint64_t due = k * p.interval;
    ASSERT_FALSE(decide(p, client.tat, due - 1, true).allowed) << k;
    const Decision d = client.send(due);
    ASSERT_TRUE(d.allowed) << k;
    ASSERT_EQ(d.remaining, 0u) << k;
  }
}

TEST(Gcra, BoundaryIsExactlyTatMinusTolerance) {
  const Policy p = build(10, 1'000, 4);  // T = 100, tolerance 1300
  const std::uint64_t tat = 50'000;
  const std::uint64_t boundary = tat - p.tolerance;
  const Decision at = decide(p, tat, boundary, true);
  EXPECT_TRUE(at.allowed);
  EXPECT_EQ(at.tat, tat + p.interval);
  EXPECT_EQ(at.remaining, 0u);
  const Decision early = decide(p, tat, boundary - 1, true);
  EXPECT_FALSE(early.allowed);
  EXPECT_EQ(early.retry_after, 1u);
  EXPECT_EQ(early.tat, tat);
}

TEST(Gcra, FifteenMinuteWindowRetriesAfterExactlyThreeMinutes) {
  const Policy p = build(5, 900'000, 0);  // scale 1: units are milliseconds
  Client client{p};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.send(0).allowed) << i;
  const Decision sixth = client.send(0);
  EXPECT_FALSE(sixth.allowed);
  EXPECT_EQ(sixth.retry_after, 180'000u);
  EXPECT_EQ(sixth.reset, 900'000u);
  EXPECT_FALSE(client.send(179'999).allowed);
  const Decision later = client.send(180'000);
  EXPECT_TRUE(later.allowed);
  EXPECT_EQ(later.remaining, 0u);
  EXPECT_FALSE(client.send(180'000).allowed);
}

TEST(Gcra, RemainingDecreasesByOnePerChargedRequest) {
  const Policy p = build(100, 60'000, 20);
  Client client{p};
  std::uint64_t expected = p.capacity;
  while (expected > 0) {
    const Decision d = client.send(7);
    ASSERT_TRUE(d.allowed);
    ASSERT_EQ(d.remaining, --expected);
  }
  EXPECT_FALSE(client.send(7).allowed);
}

TEST(Gcra, PeekReportsWhatIsLeftBeforeTheRequestAndChangesNothing) {
  const Policy p = build(10, 1'000, 0);  // T = 100
  const Decision empty = decide(p, 0, 5'000, false);
  EXPECT_TRUE(empty.allowed);
  EXPECT_EQ(empty.remaining, p.capacity);
  EXPECT_EQ(empty.tat, 0u);
  EXPECT_EQ(empty.reset, 0u);

  const Decision half = decide(p, 5'000 + 5 * p.interval, 5'000, false);
  EXPECT_TRUE(half.allowed);
  EXPECT_EQ(half.remaining, 5u);
  EXPECT_EQ(half.tat, 5'000 + 5 * p.interval);
  EXPECT_EQ(half.reset, 5 * p.interval);

  const Decision full = decide(p, 5'000 + 10 * p.interval, 5'000, false);
  EXPECT_FALSE(full.allowed);
  EXPECT_EQ(full.remaining, 0u);
  EXPECT_EQ(full.retry_after, p.interval);
}

TEST(Gcra, ResetCountsUnitsUntilFullCapacity) {
  const Policy p = build(10, 1'000, 0);
  Client client{p};
  EXPECT_EQ(client.send(1'000).reset, p.interval);
  EXPECT_EQ(client.send(1'000).reset, 2 * p.interval);
  EXPECT_EQ(client.send(1'150).reset, 2 * p.interval - 150 + p.interval);
}

TEST(Gcra, ChargeUnconditionallyAddsOneIntervalToTheLaterOfTatAndNow) {
  const Policy p = build(20, 1'000, 0);  // T = 50
  EXPECT_EQ(charge_unconditionally(p, 0, 1'000), 1'050u);
  EXPECT_EQ(charge_unconditionally(p, 5'000, 1'000), 5'050u);
  // Even far beyond the tolerance: count=failures charges what already happened.
  EXPECT_EQ(charge_unconditionally(p, 1'000'000, 0), 1'000'050u);
}

TEST(Gcra, UnitsToMillisecondsRoundsUp) {
  const Policy p = build(3, 1'000, 0);  // scale 3
  EXPECT_EQ(units_to_ms_ceil(p, 0), 0u);
  EXPECT_EQ(units_to_ms_ceil(p, 1), 1u);
  EXPECT_EQ(units_to_ms_ceil(p, 3), 1u);
  EXPECT_EQ(units_to_ms_ceil(p, 4), 2u);
  EXPECT_EQ(units_to_ms_ceil(p, 1'000), 334u);
}

// --- properties over random policies and arrivals --------------------------------------------

std::vector<Policy> random_policies(std::mt19937_64& rng, int count) {
  std::vector<Policy> out;
  while (static_cast<int>(out.size()) < count) {
    const std::uint64_t requests = 1 + rng() % 20;
    const std::uint64_t period = 1 + rng() % 3'000;
    const std::uint64_t burst = rng() % 8;
    const PolicyBuild built = make_policy(Rate{requests, period}, burst);
    if (built.ok) out.push_back(built.policy);
  }
  return out;
}

// The most allowed requests in any closed window [s, s + width] (times sorted).
std::uint64_t max_in_window(const std::vector<std::uint64_t>& times, std::uint64_t width) {
  std::uint64_t best = 0;
  std::size_t j = 0;
  for (std::size_t i = 0; i < times.size(); ++i) {
    j = std::max(j, i);
    while (j < times.size() && times[j] - times[i] <= width) ++j;
    best = std::max<std::uint64_t>(best, j - i);
  }
  return best;
}

std::vector<std::uint64_t> window_widths(const Policy& p, std::mt19937_64& rng) {
  std::vector<std::uint64_t> widths = {0,
                                       1,
                                       p.interval - 1,
                                       p.interval,
                                       p.interval + 1,
                                       3 * p.interval,
                                       10 * p.interval - 1,
                                       25 * p.interval};
  for (int i = 0; i < 8; ++i) widths.push_back(rng() % (40 * p.interval));
  return widths;
}

TEST(GcraProperty, NoWindowEverExceedsCapacityPlusWidthOverInterval) {
  std::mt19937_64 rng(20240611);
  for (const Policy& p : random_policies(rng, 150)) {
    Client client{p};
    std::vector<std::uint64_t> allowed;
    std::uint64_t now = rng() % 1'000;
    for (int i = 0; i < 1'500; ++i) {
      // Mostly arrivals faster than T, some at once, some after long pauses.
      const std::uint64_t kind = rng() % 10;
      if (kind < 3) {
        // same instant
      } else if (kind < 9) {
        now += rng() % (p.interval + 1);
      } else {
        now += rng() % (8 * p.interval * p.capacity + 1);
      }
      if (client.send(now).allowed) allowed.push_back(now);
    }
    for (const std::uint64_t width : window_widths(p, rng)) {
      ASSERT_LE(max_in_window(allowed, width), p.capacity + width / p.interval)
          << "N=" << p.requests << " P=" << p.period_ms << " burst=" << p.burst
          << " width=" << width;
    }
  }
}

TEST(GcraProperty, SaturatingStreamAchievesTheBoundExactly) {
  std::mt19937_64 rng(77);
  for (const Policy& p : random_policies(rng, 150)) {
    Client client{p};
    std::vector<std::uint64_t> allowed;
    std::uint64_t now = 0;
    // Send until rejected, then come back exactly when told to.
    while (allowed.size() < p.capacity + 60) {
      const Decision d = client.send(now);
      if (d.allowed) {
        allowed.push_back(now);
      } else {
        now += d.retry_after;
      }
    }
    for (const std::uint64_t width : window_widths(p, rng)) {
      if (width > 50 * p.interval) continue;  // beyond the stream's length
      ASSERT_EQ(max_in_window(allowed, width), p.capacity + width / p.interval)
          << "N=" << p.requests << " P=" << p.period_ms << " burst=" << p.burst
          << " width=" << width;
    }
  }
}

TEST(GcraProperty, RetryAfterLeadsToExactlyTheFirstAllowedTime) {
  std::mt19937_64 rng(5);
  for (const Policy& p : random_policies(rng, 100)) {
    Client client{p};
    std::uint64_t now = 0;
    int rejections = 0;
    for (int i = 0; i < 500; ++i) {
      now += rng() % (p.interval / 2 + 1);
      const Decision d = client.send(now);
      if (d.allowed) continue;
      ++rejections;
      ASSERT_GT(d.retry_after, 0u);
      ASSERT_FALSE(decide(p, client.tat, now + d.retry_after - 1, true).allowed);
      ASSERT_TRUE(decide(p, client.tat, now + d.retry_after, true).allowed);
    }
    EXPECT_GT(rejections, 0);
  }
}

TEST(GcraProperty, RejectionsNeverChangeTat) {
  std::mt19937_64 rng(99);
  for (const Policy& p : random_policies(rng, 100)) {
    Client client{p};
    std::uint64_t now = 0;
    for (int i = 0; i < 500; ++i) {
      now += rng() % (p.interval / 3 + 1);
      const std::uint64_t before = client.tat;
      const Decision d = client.send(now);
      if (d.allowed) {
        ASSERT_EQ(d.tat, std::max(before, now) + p.interval);
        ASSERT_EQ(d.retry_after, 0u);
      } else {
        ASSERT_EQ(d.tat, before);
        ASSERT_EQ(d.remaining, 0u);
      }
      ASSERT_LE(d.remaining, p.capacity);
    }
  }
}

// --- header values ----------------------------------------------------------------------------

TEST(HeaderValues, RoundsResetUpToWholeSeconds) {
  const Policy p = build(3, 1'000, 0);  // scale 3
  Decision d;
  d.allowed = true;
  d.remaining = 2;
  d.reset = 3'000;  // exactly 1000 ms
  HeaderValues v = header_values(p, d, 1'700'000'000);
  EXPECT_EQ(v.limit, 3u);
  EXPECT_EQ(v.remaining, 2u);
  EXPECT_EQ(v.reset_seconds, 1u);
  EXPECT_EQ(v.reset_epoch, 1'700'000'001u);
  EXPECT_EQ(v.retry_after, 0u);

  d.reset = 3'001;  // 1000.33 ms
  v = header_values(p, d, 1'700'000'000);
  EXPECT_EQ(v.reset_seconds, 2u);
  EXPECT_EQ(v.reset_epoch, 1'700'000'002u);

  d.reset = 1;  // a third of a millisecond still says 1 s
  EXPECT_EQ(header_values(p, d, 0).reset_seconds, 1u);

  d.reset = 0;
  v = header_values(p, d, 42);
  EXPECT_EQ(v.reset_seconds, 0u);
  EXPECT_EQ(v.reset_epoch, 42u);
}

TEST(HeaderValues, RetryAfterIsAtLeastOneSecondOnRejection) {
  const Policy p = build(20, 1'000, 0);  // scale 1
  Decision d;
  d.allowed = false;
  d.retry_after = 1;
  d.reset = 1'000;
  EXPECT_EQ(header_values(p, d, 0).retry_after, 1u);
  d.retry_after = 0;  // not produced by decide, but must still not say "retry now"
  EXPECT_EQ(header_values(p, d, 0).retry_after, 1u);
  d.retry_after = 1'000;
  EXPECT_EQ(header_values(p, d, 0).retry_after, 1u);
  d.retry_after = 1'001;
  EXPECT_EQ(header_values(p, d, 0).retry_after, 2u);
}

TEST(HeaderValues, RetryAfterForTheFifteenMinuteWindowIsThreeMinutes) {
  const Policy p = build(5, 900'000, 0);
  Client client{p};
  for (int i = 0; i < 5; ++i) client.send(0);
  const HeaderValues v = header_values(p, client.send(0), 1'000);
  EXPECT_EQ(v.retry_after, 180u);
  EXPECT_EQ(v.reset_seconds, 900u);
  EXPECT_EQ(v.reset_epoch, 1'900u);
  EXPECT_EQ(v.remaining, 0u);
  EXPECT_EQ(v.limit, 5u);
  EXPECT_EQ(v.window_seconds, 900u);
}

TEST(HeaderValues, WindowSecondsIsThePeriodRoundedUpAndAtLeastOne) {
  Decision d;
  d.allowed = true;
  EXPECT_EQ(header_values(build(10, 500, 0), d, 0).window_seconds, 1u);
  EXPECT_EQ(header_values(build(10, 1, 0), d, 0).window_seconds, 1u);
  EXPECT_EQ(header_values(build(10, 1'500, 0), d, 0).window_seconds, 2u);
  EXPECT_EQ(header_values(build(5, 900'000, 0), d, 0).window_seconds, 900u);
  EXPECT_EQ(header_values(build(1, 86'400'000, 0), d, 0).window_seconds, 86'400u);
}

TEST(HeaderValues, LimitIncludesTheBurst) {
  Decision d;
  d.allowed = true;
  EXPECT_EQ(header_values(build(100, 60'000, 20), d, 0).limit, 120u);
}

}  // namespace
}  // namespace captain::rate_limit
