#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "controller/common/expected.h"
#include "controller/swarm/retry_policy.h"

namespace captain::swarm {
namespace {

using std::chrono::milliseconds;

struct FakeError {
  bool retryable;
};

using Result = Expected<int, FakeError>;

Rng fixed(double value) {
  return [value]() { return value; };
}

bool retryable(const FakeError& e) {
  return e.retryable;
}

TEST(BackoffPolicy, DefaultsFollowSeedSchedule) {
  RetryPolicy policy;
  EXPECT_EQ(policy.max_attempts, 5);
  EXPECT_EQ(backoff_ceiling(policy, 1), milliseconds(0));
  EXPECT_EQ(backoff_ceiling(policy, 2), milliseconds(2000));
  EXPECT_EQ(backoff_ceiling(policy, 3), milliseconds(4000));
  EXPECT_EQ(backoff_ceiling(policy, 4), milliseconds(8000));
  EXPECT_EQ(backoff_ceiling(policy, 5), milliseconds(16000));
  EXPECT_EQ(backoff_ceiling(policy, 6), milliseconds(16000));
}

TEST(BackoffPolicy, DelaysStayWithinJitterBounds) {
  const RetryPolicy policy{8, milliseconds(100), milliseconds(3000), 2.5};
  std::mt19937_64 engine(42);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Rng rng = [&]() { return uniform(engine); };
  for (int attempt = 2; attempt <= 12; ++attempt) {
    const double bound = std::min(3000.0, 100.0 * std::pow(2.5, attempt - 2));
    for (int i = 0; i < 500; ++i) {
      const auto delay = delay_before_attempt(policy, attempt, rng);
      EXPECT_GE(delay.count(), 0);
      EXPECT_LE(static_cast<double>(delay.count()), bound) << "attempt " << attempt;
    }
  }
}

TEST(BackoffPolicy, DeterministicWithFixedRng) {
  const RetryPolicy policy{5, milliseconds(1000), milliseconds(60000), 2.0};
  Rng half = fixed(0.5);
  EXPECT_EQ(delay_before_attempt(policy, 1, half), milliseconds(0));
  EXPECT_EQ(delay_before_attempt(policy, 2, half), milliseconds(500));
  EXPECT_EQ(delay_before_attempt(policy, 3, half), milliseconds(1000));
  EXPECT_EQ(delay_before_attempt(policy, 4, half), milliseconds(2000));
  Rng zero = fixed(0.0);
  EXPECT_EQ(delay_before_attempt(policy, 4, zero), milliseconds(0));
}

TEST(BackoffPolicy, CapRespectedAndNoOverflow) {
  const RetryPolicy policy{100, milliseconds(50), milliseconds(700), 10.0};
  Rng almost_one = fixed(0.999999);
  EXPECT_EQ(backoff_ceiling(policy, 3), milliseconds(500));
  EXPECT_EQ(backoff_ceiling(policy, 4), milliseconds(700));
  EXPECT_EQ(backoff_ceiling(policy, 1000), milliseconds(700));
  EXPECT_LE(delay_before_attempt(policy, 1000, almost_one), milliseconds(700));
  EXPECT_GE(delay_before_attempt(policy, 1000, almost_one), milliseconds(699));
}

TEST(BackoffPolicy, OutOfRangeRngAndBadMultiplierAreClamped) {
  const RetryPolicy policy{5, milliseconds(100), milliseconds(1000), 0.1};  // acts as 1
  EXPECT_EQ(backoff_ceiling(policy, 4), milliseconds(100));
  Rng negative = fixed(-3.0);
  Rng huge = fixed(7.0);
  Rng nan = fixed(std::nan(""));
  EXPECT_EQ(delay_before_attempt(policy, 3, negative), milliseconds(0));
  EXPECT_EQ(delay_before_attempt(policy, 3, nan), milliseconds(0));
  EXPECT_LE(delay_before_attempt(policy, 3, huge), milliseconds(100));
}

TEST(BackoffRetries, SucceedsAfterTransientFailures) {
  const RetryPolicy policy{5, milliseconds(100), milliseconds(1000), 2.0};
  Rng rng = fixed(0.5);
  std::vector<milliseconds> sleeps;
  std::vector<int> attempts_seen;
  auto result = with_retries(
      policy,
      [&](int attempt) -> Result {
        attempts_seen.push_back(attempt);
        if (attempt < 3) return Unexpected(FakeError{true});
        return 42;
      },
      [&](milliseconds d) { sleeps.push_back(d); }, rng, retryable);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(attempts_seen, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(sleeps, (std::vector<milliseconds>{milliseconds(50), milliseconds(100)}));
}

TEST(BackoffRetries, NoSleepAfterLastAttempt) {
  const RetryPolicy policy{4, milliseconds(100), milliseconds(1000), 2.0};
  Rng rng = fixed(0.0);
  int calls = 0;
  int sleeps = 0;
  auto result = with_retries(
      policy,
      [&]() -> Result {
        ++calls;
        return Unexpected(FakeError{true});
      },
      [&](milliseconds) { ++sleeps; }, rng, retryable);
  EXPECT_FALSE(result.has_value());
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(sleeps, 3);
}

TEST(BackoffRetries, NonRetryableErrorStopsAtOnce) {
  const RetryPolicy policy{5, milliseconds(100), milliseconds(1000), 2.0};
  Rng rng = fixed(0.5);
  int calls = 0;
  int sleeps = 0;
  auto result = with_retries(
      policy,
      [&]() -> Result {
        ++calls;
        return Unexpected(FakeError{false});
      },
      [&](milliseconds) { ++sleeps; }, rng, retryable);
  EXPECT_FALSE(result.has_value());
  EXPECT_FALSE(result.error().retryable);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(sleeps, 0);
}

TEST(BackoffRetries, SingleAttemptPolicyNeverSleeps) {
  for (int max_attempts : {1, 0, -3}) {
    const RetryPolicy policy{max_attempts, milliseconds(100), milliseconds(1000), 2.0};
    Rng rng = fixed(0.5);
    int calls = 0;
    int sleeps = 0;
    auto result = with_retries(
        policy,
        [&]() -> Result {
          ++calls;
          return Unexpected(FakeError{true});
        },
        [&](milliseconds) { ++sleeps; }, rng, retryable);
    EXPECT_FALSE(result.has_value());
    EXPECT_EQ(calls, 1) << max_attempts;
    EXPECT_EQ(sleeps, 0) << max_attempts;
  }
}

TEST(BackoffRetries, FirstSuccessMakesOneCall) {
  RetryPolicy policy;
  Rng rng = fixed(0.5);
  int sleeps = 0;
  auto result = with_retries(
      policy, []() -> Result { return 7; }, [&](milliseconds) { ++sleeps; }, rng, retryable);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, 7);
  EXPECT_EQ(sleeps, 0);
}

TEST(BackoffRetries, RandomRngDelaysWithinCeilings) {
  RetryPolicy policy;
  Rng rng = make_random_rng();
  std::vector<milliseconds> sleeps;
  auto result = with_retries(
      policy, []() -> Result { return Unexpected(FakeError{true}); },
      [&](milliseconds d) { sleeps.push_back(d); }, rng, retryable);
  EXPECT_FALSE(result.has_value());
  ASSERT_EQ(sleeps.size(), 4u);
  for (std::size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i].count(), 0);
    EXPECT_LE(sleeps[i], backoff_ceiling(policy, static_cast<int>(i) + 2));
  }
}

}  // namespace
}  // namespace captain::swarm
