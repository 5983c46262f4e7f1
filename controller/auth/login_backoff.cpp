#include "controller/auth/login_backoff.h"

#include <algorithm>

#include "controller/store/login_failure_store.h"

namespace captain::auth {

LoginBackoff::LoginBackoff(Limits limits) : limits_(limits) {
  limits_.max_failures = std::max<std::size_t>(limits_.max_failures, 1);
  limits_.max_tracked_clients = std::max<std::size_t>(limits_.max_tracked_clients, 1);
  if (limits_.window <= Clock::duration::zero()) limits_.window = std::chrono::seconds(1);
}

store::Result<std::unique_ptr<LoginBackoff>> LoginBackoff::open(store::Database& db, Limits limits,
                                                                Clock::time_point now) {
  auto backoff = std::make_unique<LoginBackoff>(limits);
  const Clock::duration window = backoff->limits_.window;
  store::LoginFailureStore rows;
  // Not shared yet, so mutex_ is not taken (record_failure takes it before the database's lock;
  // taking it inside a transaction here would invert that order).
  auto loaded = db.write([&](store::Transaction& tx) -> store::Status {
    auto pruned = rows.prune(tx, now - window, now + window);
    if (!pruned) return Unexpected(pruned.error());
    std::vector<std::string> evicted;
    auto each = rows.each_between(tx, now - window, now + window,
                                  [&](std::string_view client, Clock::time_point at) {
                                    backoff->remember_locked(key_of(client), at, now, evicted);
                                  });
    if (!each) return each;
    // Only when max_tracked_clients was lowered since the rows were written. A client evicted
    // early in the replay may have come back with a later row: it stays.
    for (const auto& client : evicted) {
      if (backoff->entries_.contains(client)) continue;
      if (auto forgotten = rows.forget(tx, client); !forgotten) return forgotten;
    }
    return {};
  });
  if (!loaded) return Unexpected(loaded.error());
  backoff->db_ = &db;
  return backoff;
}

std::string LoginBackoff::key_of(std::string_view client_ip) {
  return std::string(client_ip.substr(0, kMaxKeyLength));
}

bool LoginBackoff::live(Clock::time_point failure, Clock::time_point now) const {
  return failure + limits_.window > now && failure <= now + limits_.window;
}

bool LoginBackoff::expired(const Entry& entry, Clock::time_point now) const {
  return std::none_of(entry.failures.begin(), entry.failures.end(),
                      [&](Clock::time_point t) { return live(t, now); });
}

void LoginBackoff::prune_locked(Clock::time_point now) {
  // The list is ordered by latest failure, so expired entries gather at the front. A clock set
  // back only delays pruning; eviction still bounds memory.
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
    // At most max_failures are kept: blocked when all of them are live, until the oldest of
    // them leaves the window.
    if (failures.size() < limits_.max_failures) return std::nullopt;
    if (!std::all_of(failures.begin(), failures.end(),
                     [&](Clock::time_point t) { return live(t, now); })) {
      return std::nullopt;
    }
    const Clock::time_point until =
        *std::min_element(failures.begin(), failures.end()) + limits_.window;
    if (until <= now) return std::nullopt;
    return std::chrono::ceil<std::chrono::seconds>(until - now);
  } catch (...) {
    // Allocation failure: fail closed for a short while rather than let guesses through.
    return std::chrono::seconds(1);
  }
}

void LoginBackoff::remember_locked(const std::string& key, Clock::time_point at,
                                   Clock::time_point now, std::vector<std::string>& evicted) {
  prune_locked(now);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    while (entries_.size() >= limits_.max_tracked_clients && !order_.empty()) {
      evicted.push_back(order_.front());
      entries_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    Entry entry;
    entry.position = std::prev(order_.end());
    it = entries_.emplace(key, std::move(entry)).first;
  } else {
    order_.splice(order_.end(), order_, it->second.position);  // now most recent
  }
  auto& failures = it->second.failures;
  // Drop failures that left the window, and beyond the newest max_failures nothing matters.
  std::erase_if(failures, [&](Clock::time_point t) { return !live(t, now); });
  if (failures.size() >= limits_.max_failures) failures.erase(failures.begin());
  failures.push_back(at);
}

store::Status LoginBackoff::persist_locked(const std::string& key, Clock::time_point at,
                                           Clock::time_point now,
                                           const std::vector<std::string>& evicted) {
  store::LoginFailureStore rows;
  return db_->write([&](store::Transaction& tx) -> store::Status {
    if (auto added = rows.add(tx, key, at); !added) return added;
    if (auto kept = rows.keep_newest(tx, key, limits_.max_failures); !kept) return kept;
    for (const auto& client : evicted) {
      if (auto forgotten = rows.forget(tx, client); !forgotten) return forgotten;
    }
    auto pruned = rows.prune(tx, now - limits_.window, now + limits_.window);
    if (!pruned) return Unexpected(pruned.error());
    return {};
  });
}

store::Status LoginBackoff::record_failure(std::string_view client_ip, Clock::time_point now) {
  try {
    const std::string key = key_of(client_ip);
    // Kept to the millisecond, as the store keeps it: a restart changes nothing.
    const Clock::time_point at = std::chrono::floor<std::chrono::milliseconds>(now);
    std::vector<std::string> evicted;
    std::lock_guard lock(mutex_);
    remember_locked(key, at, now, evicted);
    if (db_ == nullptr) return {};
    return persist_locked(key, at, now, evicted);
  } catch (...) {
    // Allocation failure: perhaps nothing recorded. blocked_for fails closed in the same
    // situation.
    return store::store_error(store::StoreError::Kind::sqlite,
                              "login back-off: out of memory, failure not recorded");
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
