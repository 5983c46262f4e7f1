#include "controller/auth/login_backoff.h"

#include <algorithm>

namespace captain::auth {

LoginBackoff::LoginBackoff(Limits limits) : limits_(limits) {
  limits_.max_failures = std::max<std::size_t>(limits_.max_failures, 1);
  limits_.max_tracked_clients = std::max<std::size_t>(limits_.max_tracked_clients, 1);
  if (limits_.window <= Clock::duration::zero()) limits_.window = std::chrono::seconds(1);
}

std::string LoginBackoff::key_of(std::string_view client_ip) {
  return std::string(client_ip.substr(0, kMaxKeyLength));
}

bool LoginBackoff::expired(const Entry& entry, Clock::time_point now) const {
  return entry.failures.empty() || entry.failures.back() + limits_.window <= now;
}

void LoginBackoff::prune_locked(Clock::time_point now) {
  // The list is ordered by latest failure, so expired entries gather at the front. An injected
  // clock that jumps backwards only delays pruning; eviction still bounds memory.
  while (!order_.empty()) {
    const auto it = entries_.find(order_.front());
    if (it != entries_.end() && !expired(it->second, now)) break;
    if (it != entries_.end()) entries_.erase(it);
    order_.pop_front();
  }
}

std::optional<std::chrono::seconds> LoginBackoff::blocked_for(std::string_view client_ip,
                                                              Clock::time_point now) {
  try {
    const std::string key = key_of(client_ip);
    std::lock_guard lock(mutex_);
    prune_locked(now);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    const auto& failures = it->second.failures;
    if (failures.size() < limits_.max_failures) return std::nullopt;
    // Blocked while the oldest of the newest max_failures failures is still inside the window.
    const Clock::time_point until = failures.front() + limits_.window;
    if (until <= now) return std::nullopt;
    return std::chrono::ceil<std::chrono::seconds>(until - now);
  } catch (...) {
    // Allocation failure: fail closed for a short while rather than let guesses through.
    return std::chrono::seconds(1);
  }
}

void LoginBackoff::record_failure(std::string_view client_ip, Clock::time_point now) {
  try {
    std::string key = key_of(client_ip);
    std::lock_guard lock(mutex_);
    prune_locked(now);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      while (entries_.size() >= limits_.max_tracked_clients && !order_.empty()) {
        entries_.erase(order_.front());
        order_.pop_front();
      }
      order_.push_back(key);
      Entry entry;
      entry.position = std::prev(order_.end());
      it = entries_.emplace(std::move(key), std::move(entry)).first;
    } else {
      order_.splice(order_.end(), order_, it->second.position);  // now most recent
    }
    auto& failures = it->second.failures;
    // Drop failures that left the window, and beyond the newest max_failures nothing matters.
    std::erase_if(failures, [&](Clock::time_point t) { return t + limits_.window <= now; });
    if (failures.size() >= limits_.max_failures) failures.erase(failures.begin());
    failures.push_back(now);
  } catch (...) {
    // Allocation failure: nothing recorded. blocked_for fails closed in the same situation.
  }
}

void LoginBackoff::record_success(std::string_view /*client_ip*/, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune_locked(now);
}

std::size_t LoginBackoff::tracked_clients(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune_locked(now);
  return entries_.size();
}

}  // namespace captain::auth
