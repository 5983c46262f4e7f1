#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "controller/swarm/circuit_breaker.h"

namespace captain::swarm {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using State = CircuitBreaker::State;

const CircuitBreaker::TimePoint kStart = CircuitBreaker::TimePoint(std::chrono::hours(1000));

// Only the consecutive-failure rule: the ratio rule is disabled.
BreakerConfig consecutive_only(int threshold) {
  BreakerConfig config;
  config.failure_threshold = threshold;
  config.failure_ratio = 2.0;
  config.reset_timeout = seconds(30);
  return config;
}

TEST(CircuitBreakerConfig, DefaultsFollowSeeds) {
  BreakerConfig config;
  EXPECT_EQ(config.failure_threshold, 5);
  EXPECT_EQ(config.reset_timeout, seconds(60));
  EXPECT_EQ(config.error_window, seconds(10));
  EXPECT_DOUBLE_EQ(config.failure_ratio, 0.5);
  EXPECT_EQ(config.half_open_max_calls, 1);
}

TEST(CircuitBreakerState, ThresholdOpensAndOpenRefuses) {
  CircuitBreaker breaker(consecutive_only(3));
  EXPECT_EQ(breaker.state(kStart), State::closed);
  EXPECT_TRUE(breaker.allow(kStart));
  breaker.record_failure(kStart);
  breaker.record_failure(kStart + seconds(1));
  EXPECT_EQ(breaker.state(kStart + seconds(1)), State::closed);
  EXPECT_TRUE(breaker.allow(kStart + seconds(1)));
  breaker.record_failure(kStart + seconds(2));
  EXPECT_EQ(breaker.state(kStart + seconds(2)), State::open);
  EXPECT_FALSE(breaker.allow(kStart + seconds(2)));
  EXPECT_FALSE(breaker.allow(kStart + seconds(31)));
}

TEST(CircuitBreakerState, SuccessResetsConsecutiveCount) {
  CircuitBreaker breaker(consecutive_only(3));
  breaker.record_failure(kStart);
  breaker.record_failure(kStart);
  breaker.record_success(kStart);
  EXPECT_EQ(breaker.consecutive_failures(), 0);
  breaker.record_failure(kStart);
  breaker.record_failure(kStart);
  EXPECT_EQ(breaker.state(kStart), State::closed);
}

TEST(CircuitBreakerState, ResetTimeoutGoesHalfOpenWithOneTrial) {
  CircuitBreaker breaker(consecutive_only(1));
  breaker.record_failure(kStart);
  EXPECT_EQ(breaker.state(kStart + seconds(30) - milliseconds(1)), State::open);
  EXPECT_FALSE(breaker.allow(kStart + seconds(30) - milliseconds(1)));
  EXPECT_EQ(breaker.state(kStart + seconds(30)), State::half_open);
  EXPECT_TRUE(breaker.allow(kStart + seconds(30)));
  EXPECT_FALSE(breaker.allow(kStart + seconds(30)));  // the single trial is out
  EXPECT_EQ(breaker.state(kStart + seconds(31)), State::half_open);
}

TEST(CircuitBreakerState, HalfOpenTrialSuccessCloses) {
  CircuitBreaker breaker(consecutive_only(2));
  breaker.record_failure(kStart);
  breaker.record_failure(kStart);
  ASSERT_TRUE(breaker.allow(kStart + seconds(30)));
  breaker.record_success(kStart + seconds(31));
  EXPECT_EQ(breaker.state(kStart + seconds(31)), State::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 0);
  EXPECT_TRUE(breaker.allow(kStart + seconds(31)));
  // Counters were cleared: one more failure does not reopen a threshold-2 breaker.
  breaker.record_failure(kStart + seconds(32));
  EXPECT_EQ(breaker.state(kStart + seconds(32)), State::closed);
}

TEST(CircuitBreakerState, HalfOpenTrialFailureReopens) {
  CircuitBreaker breaker(consecutive_only(1));
  breaker.record_failure(kStart);
  ASSERT_TRUE(breaker.allow(kStart + seconds(30)));
  breaker.record_failure(kStart + seconds(35));
  EXPECT_EQ(breaker.state(kStart + seconds(35)), State::open);
  EXPECT_FALSE(breaker.allow(kStart + seconds(64)));  // reset timeout restarts at reopen
  EXPECT_EQ(breaker.state(kStart + seconds(65)), State::half_open);
  EXPECT_TRUE(breaker.allow(kStart + seconds(65)));
}

TEST(CircuitBreakerState, HalfOpenAllowsConfiguredTrials) {
  BreakerConfig config = consecutive_only(1);
  config.half_open_max_calls = 3;
  CircuitBreaker breaker(config);
  breaker.record_failure(kStart);
  const auto t = kStart + seconds(30);
  EXPECT_TRUE(breaker.allow(t));
  EXPECT_TRUE(breaker.allow(t));
  EXPECT_TRUE(breaker.allow(t));
  EXPECT_FALSE(breaker.allow(t));
}

TEST(CircuitBreakerState, LostTrialPermitIsReclaimed) {
  CircuitBreaker breaker(consecutive_only(1));
  breaker.record_failure(kStart);
  ASSERT_TRUE(breaker.allow(kStart + seconds(30)));
  EXPECT_FALSE(breaker.allow(kStart + seconds(59)));
  EXPECT_TRUE(breaker.allow(kStart + seconds(60)));
}

TEST(CircuitBreakerState, ResultsWhileOpenAreIgnored) {
  CircuitBreaker breaker(consecutive_only(1));
  breaker.record_failure(kStart);
  breaker.record_success(kStart + seconds(1));  // late answer to an earlier call
  EXPECT_EQ(breaker.state(kStart + seconds(1)), State::open);
  breaker.record_failure(kStart + seconds(20));  // does not push the reopen time
  EXPECT_EQ(breaker.state(kStart + seconds(30)), State::half_open);
}

TEST(CircuitBreakerState, ToStringNames) {
  EXPECT_EQ(to_string(State::closed), "closed");
  EXPECT_EQ(to_string(State::open), "open");
  EXPECT_EQ(to_string(State::half_open), "half_open");
}

BreakerConfig ratio_config() {
  BreakerConfig config;
  config.failure_threshold = 100;  // only the ratio rule can trip
  config.error_window = seconds(10);
  config.min_calls = 10;
  config.failure_ratio = 0.5;
  return config;
}

TEST(CircuitBreakerWindow, MixedResultsOpenAtRatio) {
  CircuitBreaker breaker(ratio_config());
  auto t = kStart;
  // success, failure alternating: 4 of 9 failures, below min_calls.
  for (int i = 0; i < 9; ++i) {
    if (i % 2 == 0) {
      breaker.record_success(t);
    } else {
      breaker.record_failure(t);
    }
    t += milliseconds(100);
  }
  EXPECT_EQ(breaker.state(t), State::closed);
  breaker.record_failure(t);  // 10 calls, 5 failures: 50 %
  EXPECT_EQ(breaker.state(t), State::open);
}

TEST(CircuitBreakerWindow, BelowRatioStaysClosed) {
  CircuitBreaker breaker(ratio_config());
  auto t = kStart;
  for (int i = 0; i < 50; ++i) {
    if (i % 3 == 0) {
      breaker.record_failure(t);  // one in three
    } else {
      breaker.record_success(t);
    }
    t += milliseconds(100);
  }
  EXPECT_EQ(breaker.state(t), State::closed);
}

TEST(CircuitBreakerWindow, MinCallsRequired) {
  CircuitBreaker breaker(ratio_config());
  for (int i = 0; i < 4; ++i) {
    breaker.record_failure(kStart);
    breaker.record_success(kStart);
  }
  breaker.record_failure(kStart);  // 9 calls, 5 failures
  EXPECT_EQ(breaker.state(kStart), State::closed);
}

TEST(CircuitBreakerWindow, ForgetsOldFailures) {
  CircuitBreaker breaker(ratio_config());
  for (int i = 0; i < 4; ++i) breaker.record_failure(kStart);
  // 10 s later those four are out of the window; counting them, the next six calls would be
  // 10 calls with 5 failures and trip.
  const auto later = kStart + seconds(10);
  for (int i = 0; i < 5; ++i) breaker.record_success(later);
  breaker.record_failure(later);
  EXPECT_EQ(breaker.state(later), State::closed);
}

TEST(CircuitBreakerWindow, ForgetsOldSuccesses) {
  CircuitBreaker breaker(ratio_config());
  for (int i = 0; i < 10; ++i) breaker.record_success(kStart);
  // Old successes no longer dilute the ratio: 5 failures in the next 10 calls trip.
  auto t = kStart + seconds(11);
  for (int i = 0; i < 5; ++i) {
    breaker.record_success(t);
    EXPECT_EQ(breaker.state(t), State::closed) << i;
    breaker.record_failure(t);
    t += milliseconds(100);
  }
  EXPECT_EQ(breaker.state(t), State::open);
}

TEST(CircuitBreakerWindow, OldFailuresDoNotCountTowardRatio) {
  BreakerConfig config = ratio_config();
  config.min_calls = 4;
  CircuitBreaker breaker(config);
  breaker.record_failure(kStart);
  breaker.record_success(kStart);
  breaker.record_failure(kStart + seconds(1));
  breaker.record_success(kStart + seconds(1));
  // Without forgetting, the next call would be 3 failures of 5. With the window, the first two
  // calls are gone at t=10 s: 1 failure + 1 success + this failure = 2 of 3, below min_calls.
  breaker.record_failure(kStart + seconds(10));
  EXPECT_EQ(breaker.state(kStart + seconds(10)), State::closed);
  breaker.record_failure(kStart + seconds(10));  // 3 of 4: trips
  EXPECT_EQ(breaker.state(kStart + seconds(10)), State::open);
}

TEST(CircuitBreakerRegistry, KnownFamiliesListedAndIndependent) {
  BreakerRegistry registry(consecutive_only(1));
  auto snap = registry.snapshot(kStart);
  ASSERT_EQ(snap.size(), 8u);
  std::vector<std::string> names;
  for (const auto& [name, state] : snap) {
    names.push_back(name);
    EXPECT_EQ(state, State::closed);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"containers", "images", "networks", "services",
                                             "swarm", "system", "tasks", "volumes"}));
  registry.get("services").record_failure(kStart);
  EXPECT_EQ(&registry.get("services"), &registry.get("services"));
  EXPECT_EQ(registry.get("containers").state(kStart), State::closed);
  registry.get("plugins");  // a family not known in advance is created on first use
  snap = registry.snapshot(kStart + seconds(1));
  ASSERT_EQ(snap.size(), 9u);
  for (const auto& [name, state] : snap) {
    EXPECT_EQ(state, name == "services" ? State::open : State::closed) << name;
  }
  snap = registry.snapshot(kStart + seconds(30));
  for (const auto& [name, state] : snap) {
    if (name == "services") {
      EXPECT_EQ(state, State::half_open);
    }
  }
}

TEST(CircuitBreakerConcurrency, ConcurrentUseIsSafe) {
  BreakerConfig config;
  config.failure_threshold = 3;
  config.reset_timeout = milliseconds(5);
  config.min_calls = 5;
  config.max_window_calls = 64;
  BreakerRegistry registry(config);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t]() {
      auto& breaker = registry.get(t % 2 == 0 ? "services" : "containers");
      for (int i = 0; i < 2000; ++i) {
        const auto now = kStart + milliseconds(i);
        if (breaker.allow(now)) {
          allowed.fetch_add(1);
          if ((i + t) % 3 == 0) {
            breaker.record_failure(now);
          } else {
            breaker.record_success(now);
          }
        }
        if (i % 100 == 0) registry.snapshot(now);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_GT(allowed.load(), 0);
  EXPECT_EQ(registry.snapshot(kStart + seconds(100)).size(), BreakerRegistry::kFamilies.size());
}

}  // namespace
}  // namespace captain::swarm
