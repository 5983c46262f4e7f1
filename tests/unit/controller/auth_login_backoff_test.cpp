#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "controller/auth/login_backoff.h"

namespace captain::auth {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using Clock = LoginBackoff::Clock;

const Clock::time_point kStart = Clock::time_point(std::chrono::hours(1000));

TEST(LoginBackoff, FourFailuresStillAllowed) {
  LoginBackoff backoff;
  for (int i = 0; i < 4; ++i) backoff.record_failure("10.0.0.1", kStart + seconds(i));
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + seconds(4)), std::nullopt);
}

TEST(LoginBackoff, FifthFailureBlocksUntilOldestIsFifteenMinutesOld) {
  LoginBackoff backoff;
  for (int i = 0; i < 5; ++i) backoff.record_failure("10.0.0.1", kStart + seconds(10 * i));
  auto blocked = backoff.blocked_for("10.0.0.1", kStart + seconds(40));
  ASSERT_TRUE(blocked);
  EXPECT_EQ(*blocked, minutes(15) - seconds(40));

  // Rounded up: half a second left reads as one second.
  auto almost =
      backoff.blocked_for("10.0.0.1", kStart + minutes(15) - std::chrono::milliseconds(500));
  ASSERT_TRUE(almost);
  EXPECT_EQ(*almost, seconds(1));

  // The oldest counted failure leaves the window: four remain, so the client may try again.
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + minutes(15)), std::nullopt);
  // ...but one more failure re-blocks until the next-oldest ages out.
  backoff.record_failure("10.0.0.1", kStart + minutes(15));
  auto again = backoff.blocked_for("10.0.0.1", kStart + minutes(15));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, seconds(10));
}

TEST(LoginBackoff, SpreadOutFailuresNeverBlock) {
  LoginBackoff backoff;
  for (int i = 0; i < 20; ++i) {
    const auto now = kStart + minutes(4) * i;  // at most 4 inside any 15 minutes
    EXPECT_EQ(backoff.blocked_for("10.0.0.1", now), std::nullopt) << i;
    backoff.record_failure("10.0.0.1", now);
  }
}

TEST(LoginBackoff, UnblocksAfterWindowAndForgetsClient) {
  LoginBackoff backoff;
  for (int i = 0; i < 5; ++i) backoff.record_failure("10.0.0.1", kStart);
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart + minutes(14)));
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + minutes(15)), std::nullopt);
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(15)), 0u);
}

TEST(LoginBackoff, SuccessDoesNotClearOrCount) {
  LoginBackoff backoff;
  for (int i = 0; i < 4; ++i) backoff.record_failure("10.0.0.1", kStart);
  backoff.record_success("10.0.0.1", kStart + seconds(1));
  backoff.record_success("10.0.0.1", kStart + seconds(2));
  EXPECT_EQ(backoff.blocked_for("10.0.0.1", kStart + seconds(3)), std::nullopt);  // not counted
  backoff.record_failure("10.0.0.1", kStart + seconds(3));
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart + seconds(4)));  // not cleared
  backoff.record_success("10.0.0.1", kStart + seconds(5));
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart + seconds(6)));
}

TEST(LoginBackoff, IpsAreIndependent) {
  LoginBackoff backoff;
  for (int i = 0; i < 5; ++i) backoff.record_failure("10.0.0.1", kStart);
  EXPECT_TRUE(backoff.blocked_for("10.0.0.1", kStart));
  EXPECT_EQ(backoff.blocked_for("10.0.0.2", kStart), std::nullopt);
  EXPECT_EQ(backoff.blocked_for("::1", kStart), std::nullopt);
}

TEST(LoginBackoff, MemoryIsCappedEvictingLeastRecent) {
  LoginBackoff::Limits limits;
  limits.max_tracked_clients = 100;
  LoginBackoff backoff(limits);
  for (int i = 0; i < 5; ++i) backoff.record_failure("attacker", kStart);
  for (int i = 0; i < 1000; ++i) {
    backoff.record_failure("10.1." + std::to_string(i), kStart + seconds(1));
    EXPECT_LE(backoff.tracked_clients(kStart + seconds(1)), 100u);
  }
  EXPECT_EQ(backoff.tracked_clients(kStart + seconds(1)), 100u);
  // The oldest entries were evicted; the newest survive.
  EXPECT_EQ(backoff.blocked_for("attacker", kStart + seconds(1)), std::nullopt);
  for (int i = 0; i < 4; ++i) backoff.record_failure("10.1.999", kStart + seconds(2));
  EXPECT_TRUE(backoff.blocked_for("10.1.999", kStart + seconds(2)));
}

TEST(LoginBackoff, ExpiredEntriesArePruned) {
  LoginBackoff backoff;
  for (int i = 0; i < 50; ++i) backoff.record_failure("10.2." + std::to_string(i), kStart);
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(1)), 50u);
  backoff.record_failure("10.3.0", kStart + minutes(10));
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(16)), 1u);
  EXPECT_EQ(backoff.tracked_clients(kStart + minutes(26)), 0u);
}

TEST(LoginBackoff, LongKeysAreTruncated) {
  LoginBackoff backoff;
  const std::string base(LoginBackoff::kMaxKeyLength, 'k');
  for (int i = 0; i < 5; ++i) backoff.record_failure(base + std::to_string(i), kStart);
  EXPECT_EQ(backoff.tracked_clients(kStart), 1u);
  EXPECT_TRUE(backoff.blocked_for(base + "zzz", kStart));
}

TEST(LoginBackoff, CustomLimits) {
  LoginBackoff::Limits limits;
  limits.max_failures = 2;
  limits.window = minutes(1);
  LoginBackoff backoff(limits);
  backoff.record_failure("a", kStart);
  EXPECT_EQ(backoff.blocked_for("a", kStart), std::nullopt);
  backoff.record_failure("a", kStart + seconds(30));
  EXPECT_EQ(backoff.blocked_for("a", kStart + seconds(30)), seconds(30));
}

TEST(LoginBackoff, ConcurrentUseIsSafe) {
  LoginBackoff::Limits limits;
  limits.max_tracked_clients = 64;
  LoginBackoff backoff(limits);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&backoff, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string ip = "10." + std::to_string(t) + "." + std::to_string(i % 100);
        backoff.record_failure(ip, kStart + seconds(i));
        (void)backoff.blocked_for(ip, kStart + seconds(i));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(backoff.tracked_clients(kStart + seconds(2000)), 64u);
}

}  // namespace
}  // namespace captain::auth
