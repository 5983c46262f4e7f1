// Circuit breaker per Docker Engine API endpoint family ("containers", "services", ...).
//
// closed    -> every call is allowed; results are counted.
//              Opens when consecutive failures reach failure_threshold, or when the calls
//              recorded within the last error_window number at least min_calls and the share of
//              failures among them is >= failure_ratio.
// open      -> every call is refused until reset_timeout has passed since it opened.
// half_open -> up to half_open_max_calls trial calls are allowed; the first trial success
//              closes the breaker (counters cleared), a trial failure reopens it. A trial permit
//              whose result is never recorded is reclaimed after reset_timeout, so a lost permit
//              cannot wedge the breaker.
//
// Results recorded while open (late answers to calls allowed before it opened) are ignored.
// Time is injected as steady_clock time points; every method is thread-safe.
//
// Defaults from shared/seeds/tyaprover-architecture.md ("Circuit Breaker Pattern",
// Configuration) and tyaprover-phase4-observability.md: failureThreshold 5, resetTimeout 60 s,
// errorThresholdPercentage 50 %, rollingWindow 10 s, one trial call in half-open. min_calls (10)
// is not in the seeds.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace captain::swarm {

struct BreakerConfig {
  int failure_threshold = 5;  // consecutive failures that open; < 1 acts as 1
  std::chrono::milliseconds reset_timeout{60'000};
  std::chrono::milliseconds error_window{10'000};
  int min_calls = 10;           // calls within error_window before the ratio counts; < 1 acts as 1
  double failure_ratio = 0.5;   // opens at >= this share of failures; > 1 disables the ratio rule
  int half_open_max_calls = 1;  // < 1 acts as 1
  // Memory bound on the calls kept for the ratio; beyond it the oldest are forgotten early.
  std::size_t max_window_calls = 4096;
};

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  enum class State { closed, open, half_open };

  CircuitBreaker() : CircuitBreaker(BreakerConfig{}) {}
  explicit CircuitBreaker(BreakerConfig config);

  // Whether a call may go out now. In half-open, a true answer consumes a trial permit; the
  // caller must then record the call's result.
  bool allow(TimePoint now);
  void record_success(TimePoint now);
  void record_failure(TimePoint now);

  // The state as of `now` (an open breaker whose reset_timeout passed reads half_open).
  State state(TimePoint now);
  int consecutive_failures() const;
  const BreakerConfig& config() const { return config_; }

 private:
  struct Call {
    TimePoint at;
    bool failed;
  };

  void advance_locked(TimePoint now);
  void prune_locked(TimePoint now);
  void record_locked(TimePoint now, bool failed);
  void open_locked(TimePoint now);
  void close_locked();

  const BreakerConfig config_;
  mutable std::mutex mutex_;
  State state_ = State::closed;
  int consecutive_failures_ = 0;
  std::deque<Call> window_;
  std::size_t window_failures_ = 0;
  TimePoint opened_at_{};
  TimePoint half_open_since_{};
  int trials_issued_ = 0;
};

std::string_view to_string(CircuitBreaker::State state);

// One breaker per endpoint family, created on first use with a shared config. Breakers live as
// long as the registry, so references from get() stay valid.
class BreakerRegistry {
 public:
  static constexpr std::array<std::string_view, 8> kFamilies = {
      "containers", "images", "networks", "services", "swarm", "system", "tasks", "volumes"};

  // Pre-creates the kFamilies breakers so a snapshot lists them before any call.
  BreakerRegistry() : BreakerRegistry(BreakerConfig{}) {}
  explicit BreakerRegistry(BreakerConfig config);

  CircuitBreaker& get(std::string_view family);
  // Every breaker's state as of `now`, sorted by family name.
  std::vector<std::pair<std::string, CircuitBreaker::State>> snapshot(
      CircuitBreaker::TimePoint now);

 private:
  const BreakerConfig config_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<CircuitBreaker>, std::less<>> breakers_;
};

}  // namespace captain::swarm
