#include "controller/api/client_address.h"

#include <arpa/inet.h>

namespace captain::api {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_ip(std::string_view text) {
  if (text.empty() || text.size() > 45) return false;
  const std::string s(text);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           std::string_view real_ip, const std::vector<config::Cidr>& trusted) {
  if (!config::in_any(trusted, peer)) return std::string(peer);
  if (trim(forwarded_for).empty()) {
    const auto r = trim(real_ip);
    return is_ip(r) ? std::string(r) : std::string(peer);
  }
  std::string client(peer);
  std::size_t end = forwarded_for.size();
  while (true) {
    const auto comma = forwarded_for.rfind(',', end == 0 ? 0 : end - 1);
    const std::size_t start = comma == std::string_view::npos || end == 0 ? 0 : comma + 1;
    const auto hop = trim(forwarded_for.substr(start, end - start));
    // Garbage stops the walk: the last address a trusted proxy vouched for is the answer.
    if (!is_ip(hop)) return client;
    client = std::string(hop);
    if (!config::in_any(trusted, hop) || start == 0) return client;
    end = start - 1;
  }
}

}  // namespace captain::api
