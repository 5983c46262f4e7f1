// Failed logins per client address in the store (the login_failures table), for the login
// back-off (auth/login_backoff.h), which decides what to keep.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "controller/store/sqlite.h"

namespace captain::store {

// Runs inside the caller's transaction. Times are wall time, stored as whole milliseconds since
// the Unix epoch (rounded down); a row is one failure.
class LoginFailureStore {
 public:
  using Time = std::chrono::system_clock::time_point;

  // Calls fn(client, at) for every failure with `from < at <= to`, oldest first (ties in the
  // order they were added). fn must not use the transaction.
  Status each_between(Transaction& tx, Time from, Time to,
                      const std::function<void(std::string_view client, Time at)>& fn) const;

  Status add(Transaction& tx, std::string_view client, Time at);

  // Deletes the client's failures except its newest `keep` (by time, then by order added).
  Status keep_newest(Transaction& tx, std::string_view client, std::size_t keep);

  // Deletes every failure of the client.
  Status forget(Transaction& tx, std::string_view client);

  // Deletes every failure outside `from < at <= to`; returns how many rows went.
  Result<std::int64_t> prune(Transaction& tx, Time from, Time to);
};

}  // namespace captain::store
