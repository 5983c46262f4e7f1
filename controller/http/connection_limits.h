// How many connections the listener holds: in total and per client address, so a few hosts
// holding connections open (slowloris) cannot take every slot. Thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace captain::http {

class ConnectionLimits {
 public:
  ConnectionLimits(std::size_t total, std::size_t per_client);

  // Takes a slot for `client`; false when either limit is reached (the caller closes). With
  // `unlimited`, only the total applies (a proxy carrying many clients).
  bool admit(const std::string& client, bool unlimited = false);
  // Gives back a slot admit() took.
  void release(const std::string& client);

  std::size_t open() const;
  std::size_t open_for(const std::string& client) const;

 private:
  const std::size_t total_;
  const std::size_t per_client_;
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::map<std::string, std::size_t> per_client_open_;
};

}  // namespace captain::http
