// Login back-off per client IP: after `max_failures` failed logins within `window`, further
// attempts are refused (API status 1113) until the oldest of those failures has aged out of the
// window. Thread-safe; memory is bounded by max_tracked_clients.
//
// A successful login neither counts as a failure nor clears the recorded failures. Clearing
// would let someone who knows one valid password (or a shared NAT neighbour's) interleave it to
// launder unlimited guesses against the admin password; with one account, the legitimate user
// waits at most one window.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace captain::auth {

class LoginBackoff {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::size_t max_failures = 5;
    Clock::duration window = std::chrono::minutes(15);
    // Beyond this many IPs with live failures, the least recently failing one is forgotten.
    std::size_t max_tracked_clients = 100'000;
  };

  // Client keys longer than this are truncated (an IPv6 text form is at most 45 characters).
  static constexpr std::size_t kMaxKeyLength = 64;

  LoginBackoff() : LoginBackoff(Limits{}) {}
  // Zero limits are raised to 1.
  explicit LoginBackoff(Limits limits);

  // nullopt: the client may try. Otherwise the whole seconds (rounded up, ≥ 1) to wait.
  std::optional<std::chrono::seconds> blocked_for(std::string_view client_ip,
                                                  Clock::time_point now);

  // Records a failed attempt. Callers check blocked_for first and do not verify passwords for
  // blocked clients; a failure recorded anyway extends the block (it is the newest failure).
  void record_failure(std::string_view client_ip, Clock::time_point now);

  // Deliberately a no-op apart from housekeeping: see the file comment.
  void record_success(std::string_view client_ip, Clock::time_point now);

  // IPs currently tracked (after pruning those whose failures all left the window).
  std::size_t tracked_clients(Clock::time_point now);

 private:
  struct Entry {
    std::vector<Clock::time_point> failures;  // the newest max_failures, oldest first
    std::list<std::string>::iterator position;
  };

  static std::string key_of(std::string_view client_ip);
  bool expired(const Entry& entry, Clock::time_point now) const;
  void prune_locked(Clock::time_point now);

  Limits limits_;
  std::mutex mutex_;
  // IPs ordered by their latest failure, least recent first: pruning and eviction pop the
  // front, so both are amortised O(1).
  std::list<std::string> order_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace captain::auth
