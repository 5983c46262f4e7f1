#include "controller/swarm/circuit_breaker.h"

#include <algorithm>

namespace captain::swarm {
namespace {

BreakerConfig sanitize(BreakerConfig config) {
  config.failure_threshold = std::max(1, config.failure_threshold);
  config.min_calls = std::max(1, config.min_calls);
  config.half_open_max_calls = std::max(1, config.half_open_max_calls);
  config.reset_timeout = std::max(config.reset_timeout, std::chrono::milliseconds(0));
  config.error_window = std::max(config.error_window, std::chrono::milliseconds(0));
  config.max_window_calls = std::max<std::size_t>(1, config.max_window_calls);
  if (!(config.failure_ratio > 0.0)) config.failure_ratio = 0.0;  // NaN or <= 0: any failure
  return config;
}

}  // namespace

CircuitBreaker::CircuitBreaker(BreakerConfig config) : config_(sanitize(config)) {}

void CircuitBreaker::advance_locked(TimePoint now) {
  if (state_ == State::open && now - opened_at_ >= config_.reset_timeout) {
    state_ = State::half_open;
    half_open_since_ = now;
    trials_issued_ = 0;
  } else if (state_ == State::half_open && trials_issued_ >= config_.half_open_max_calls &&
             now - half_open_since_ >= config_.reset_timeout) {
    // Trial results never arrived: hand out fresh permits.
    half_open_since_ = now;
    trials_issued_ = 0;
  }
}

void CircuitBreaker::prune_locked(TimePoint now) {
  const TimePoint horizon = now - config_.error_window;
  while (!window_.empty() &&
         (window_.front().at <= horizon || window_.size() > config_.max_window_calls)) {
    if (window_.front().failed) --window_failures_;
    window_.pop_front();
  }
}

void CircuitBreaker::open_locked(TimePoint now) {
  state_ = State::open;
  opened_at_ = now;
  trials_issued_ = 0;
}

void CircuitBreaker::close_locked() {
  state_ = State::closed;
  consecutive_failures_ = 0;
  window_.clear();
  window_failures_ = 0;
  trials_issued_ = 0;
}

void CircuitBreaker::record_locked(TimePoint now, bool failed) {
  window_.push_back(Call{now, failed});
  if (failed) ++window_failures_;
  prune_locked(now);
}

bool CircuitBreaker::allow(TimePoint now) {
  std::lock_guard lock(mutex_);
  advance_locked(now);
  switch (state_) {
    case State::closed:
      return true;
    case State::open:
      return false;
    case State::half_open:
      if (trials_issued_ >= config_.half_open_max_calls) return false;
      ++trials_issued_;
      return true;
  }
  return false;
}

void CircuitBreaker::record_success(TimePoint now) {
  std::lock_guard lock(mutex_);
  advance_locked(now);
  switch (state_) {
    case State::closed:
      consecutive_failures_ = 0;
      record_locked(now, false);
      return;
    case State::half_open:
      close_locked();
      return;
    case State::open:
      return;
  }
}

void CircuitBreaker::record_failure(TimePoint now) {
  std::lock_guard lock(mutex_);
  advance_locked(now);
  switch (state_) {
    case State::closed: {
      ++consecutive_failures_;
      record_locked(now, true);
      const auto calls = window_.size();
      const bool ratio_trips = calls >= static_cast<std::size_t>(config_.min_calls) &&
                               static_cast<double>(window_failures_) >=
                                   config_.failure_ratio * static_cast<double>(calls);
      if (consecutive_failures_ >= config_.failure_threshold || ratio_trips) open_locked(now);
      return;
    }
    case State::half_open:
      open_locked(now);
      return;
    case State::open:
      return;
  }
}

CircuitBreaker::State CircuitBreaker::state(TimePoint now) {
  std::lock_guard lock(mutex_);
  advance_locked(now);
  return state_;
}

int CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mutex_);
  return consecutive_failures_;
}

std::string_view to_string(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::closed:
      return "closed";
    case CircuitBreaker::State::open:
      return "open";
    case CircuitBreaker::State::half_open:
      return "half_open";
  }
  return "unknown";
}

BreakerRegistry::BreakerRegistry(BreakerConfig config) : config_(config) {
  for (std::string_view family : kFamilies) {
    breakers_.emplace(std::string(family), std::make_unique<CircuitBreaker>(config_));
  }
}

CircuitBreaker& BreakerRegistry::get(std::string_view family) {
  std::lock_guard lock(mutex_);
  auto it = breakers_.find(family);
  if (it == breakers_.end()) {
    it = breakers_.emplace(std::string(family), std::make_unique<CircuitBreaker>(config_)).first;
  }
  return *it->second;
}

std::vector<std::pair<std::string, CircuitBreaker::State>> BreakerRegistry::snapshot(
    CircuitBreaker::TimePoint now) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, CircuitBreaker::State>> out;
  out.reserve(breakers_.size());
  for (const auto& [name, breaker] : breakers_) out.emplace_back(name, breaker->state(now));
  return out;
}

}  // namespace captain::swarm
