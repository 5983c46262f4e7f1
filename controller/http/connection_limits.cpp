#include "controller/http/connection_limits.h"

namespace captain::http {

ConnectionLimits::ConnectionLimits(std::size_t total, std::size_t per_client)
    : total_(total), per_client_(per_client) {}

bool ConnectionLimits::admit(const std::string& client, bool unlimited) {
  std::lock_guard lock(mutex_);
  std::size_t& mine = per_client_open_[client];
  if (open_ >= total_ || (!unlimited && mine >= per_client_)) {
    if (mine == 0) per_client_open_.erase(client);
    return false;
  }
  ++mine;
  ++open_;
  return true;
}

void ConnectionLimits::release(const std::string& client) {
  std::lock_guard lock(mutex_);
  auto it = per_client_open_.find(client);
  if (it == per_client_open_.end()) return;
  if (--it->second == 0) per_client_open_.erase(it);
  --open_;
}

std::size_t ConnectionLimits::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::size_t ConnectionLimits::open_for(const std::string& client) const {
  std::lock_guard lock(mutex_);
  auto it = per_client_open_.find(client);
  return it == per_client_open_.end() ? 0 : it->second;
}

}  // namespace captain::http
