// Retries for idempotent Docker Engine API calls: capped exponential backoff with full jitter.
//
// Full jitter (delay drawn uniformly from [0, min(max, initial * multiplier^n)]) rather than
// decorrelated jitter: it is stateless, so the delay depends only on the attempt number and one
// random draw; that matches `delay_before_attempt(attempt, rng)`, makes the bound of every delay
// exact and testable, and spreads retries from many callers as well as decorrelated jitter does.
//
// Attempts are numbered from 1. Attempt 1 runs at once; attempt n >= 2 waits
// delay_before_attempt(n), whose ceiling is initial * multiplier^(n - 2), capped at `max`.
//
// Defaults follow the retry schedule in shared/seeds/tyaprover-architecture.md ("Retry with
// Exponential Backoff": wait 2 s, 4 s, 8 s, 16 s, then give up): 5 attempts, 2 s initial,
// multiplier 2, cap 16 s. With full jitter those are ceilings, not fixed waits.
#pragma once

#include <chrono>
#include <functional>
#include <type_traits>
#include <utility>

namespace captain::swarm {

struct RetryPolicy {
  int max_attempts = 5;  // total calls, the first included; values < 1 act as 1
  std::chrono::milliseconds initial{2000};
  std::chrono::milliseconds max{16000};
  double multiplier = 2.0;  // values < 1 (or NaN) act as 1
};

// Returns a number in [0, 1); values outside are clamped. Injectable so tests are deterministic.
using Rng = std::function<double()>;

// A uniform [0, 1) source seeded from std::random_device. Not thread-safe: one per caller.
Rng make_random_rng();

// The exclusive ceiling of the jittered delay before `attempt` (0 for attempt <= 1):
// min(max, initial * multiplier^(attempt - 2)), never negative, never overflowing.
std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, int attempt);

// Full-jitter delay before `attempt`: floor(ceiling * rng()), always in [0, ceiling].
// Attempt <= 1 (and a zero ceiling) gets 0 without drawing from rng.
std::chrono::milliseconds delay_before_attempt(const RetryPolicy& policy, int attempt, Rng& rng);

// Runs `call` until it succeeds, its error is not retryable, or max_attempts calls were made,
// and returns the last result. `call` is invoked as call() or call(int attempt); its result R
// must offer has_value() and error() (captain::Expected does). `sleep` receives a
// std::chrono::milliseconds before each retry and is never invoked after the last attempt or
// after a non-retryable error. `is_retryable` receives r.error().
template <class F, class Sleeper, class IsRetryable>
auto with_retries(const RetryPolicy& policy, F&& call, Sleeper&& sleep, Rng& rng,
                  IsRetryable&& is_retryable) {
  const int attempts = policy.max_attempts < 1 ? 1 : policy.max_attempts;
  auto invoke = [&](int attempt) {
    if constexpr (std::is_invocable_v<F&, int>) {
      return call(attempt);
    } else {
      return call();
    }
  };
  for (int attempt = 1;; ++attempt) {
    auto result = invoke(attempt);
    if (result.has_value() || attempt >= attempts || !is_retryable(result.error())) {
      return result;
    }
    sleep(delay_before_attempt(policy, attempt + 1, rng));
  }
}

}  // namespace captain::swarm
