// Login back-off per client IP: after `max_failures` failed logins within `window`, further
// attempts are refused (API status 1113) until the oldest of those failures has aged out of the
// window. Thread-safe; memory is bounded by max_tracked_clients.
//
// A successful login neither counts as a failure nor clears the recorded failures. Clearing
// would let someone who knows one valid password (or a shared NAT neighbour's) interleave it to
// launder unlimited guesses against the admin password; with one account, the legitimate user
// waits at most one window.
//
// Persistence (open()): the failures also live in the store's login_failures table, so a
// restart does not lift a block. The table mirrors the memory, which answers every check:
//   - blocked_for never touches the store (a blocked client costs no write, not even a read);
//   - record_failure is one write transaction, committed (synchronous=FULL) before it returns,
//     so before the caller answers: it inserts the row, trims the client to its newest
//     max_failures rows, deletes the rows of a client evicted for room, and deletes the rows
//     that left the window (cost: the rows deleted, through the index on `at`);
//   - open() deletes what left the window and loads the rest.
// Rows number at most max_tracked_clients × max_failures plus those that aged out since the last
// failure. A crash between the commit and the answer keeps the failure (it happened); a store
// error keeps it in memory only (record_failure says so). One LoginBackoff per database file.
//
// Time is the wall clock: a steady clock's epoch does not survive a reboot. Failures are kept to
// the millisecond. If the clock is set back, a failure stamped in the future still counts, but
// only while it is within one window of now: a clock set back by more than the window (a reset
// RTC before NTP) forgets failures rather than blocking an address for as long as the step.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "controller/store/sqlite.h"

namespace captain::auth {

class LoginBackoff {
 public:
  using Clock = std::chrono::system_clock;

  struct Limits {
    std::size_t max_failures = 5;
    Clock::duration window = std::chrono::minutes(15);
    // Beyond this many IPs with live failures, the least recently failing one is forgotten.
    std::size_t max_tracked_clients = 100'000;
  };

  // Client keys longer than this are truncated (an IPv6 text form is at most 45 characters).
  static constexpr std::size_t kMaxKeyLength = 64;

  // In memory only: a restart forgets every failure (tests, tools without a store).
  LoginBackoff() : LoginBackoff(Limits{}) {}
  // Zero limits are raised to 1.
  explicit LoginBackoff(Limits limits);

  // Backed by `db`, which must outlive it: deletes the failures that are not live at `now` and
  // loads the others, in one write transaction.
  static store::Result<std::unique_ptr<LoginBackoff>> open(store::Database& db, Limits limits,
                                                           Clock::time_point now);

  LoginBackoff(const LoginBackoff&) = delete;
  LoginBackoff& operator=(const LoginBackoff&) = delete;

  // nullopt: the client may try. Otherwise the whole seconds (rounded up, ≥ 1) to wait.
  std::optional<std::chrono::seconds> blocked_for(std::string_view client_ip,
                                                  Clock::time_point now);

  // Records a failed attempt. Callers check blocked_for first and do not verify passwords for
  // blocked clients; a failure recorded anyway extends the block (it is the newest failure).
  // With a store, the row is committed before this returns. An error means the failure counts
  // in memory but not in the store (a restart would forget it), or, rarely, not at all (out of
  // memory).
  store::Status record_failure(std::string_view client_ip, Clock::time_point now);

  // Deliberately a no-op apart from housekeeping in memory: see the file comment.
  void record_success(std::string_view client_ip, Clock::time_point now);

  // IPs currently tracked (after pruning those whose failures all left the window).
  std::size_t tracked_clients(Clock::time_point now);

 private:
  struct Entry {
    std::vector<Clock::time_point> failures;  // the newest max_failures, in recording order
    std::list<std::string>::iterator position;
  };

  static std::string key_of(std::string_view client_ip);
  // Within one window of now, either side (see the file comment on clocks set back).
  bool live(Clock::time_point failure, Clock::time_point now) const;
  bool expired(const Entry& entry, Clock::time_point now) const;
  void prune_locked(Clock::time_point now);
  // Adds the failure in memory; clients evicted to make room are appended to `evicted`.
  void remember_locked(const std::string& key, Clock::time_point at, Clock::time_point now,
                       std::vector<std::string>& evicted);
  // The store's half of record_failure (see the file comment), under mutex_ so that the rows
  // change in the same order as the memory.
  store::Status persist_locked(const std::string& key, Clock::time_point at, Clock::time_point now,
                               const std::vector<std::string>& evicted);

  Limits limits_;
  store::Database* db_ = nullptr;  // null: memory only
  std::mutex mutex_;
  // IPs ordered by their latest failure, least recent first: pruning and eviction pop the
  // front, so both are amortised O(1).
  std::list<std::string> order_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace captain::auth
