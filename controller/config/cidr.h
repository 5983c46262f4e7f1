// Address ranges in CIDR notation ("10.0.0.0/8", "::1", "fd00::/8"): parsing a comma-separated
// list and testing whether an address falls in it. Used for trusted_proxies.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/expected.h"

namespace captain::config {

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes
  int prefix = 0;                          // bits that must match
  std::string text;                        // as written, for messages and the help
  friend bool operator==(const Cidr& a, const Cidr& b) {
    return a.v6 == b.v6 && a.address == b.address && a.prefix == b.prefix;
  }
};

// "ADDRESS" (a single host) or "ADDRESS/PREFIX"; host bits set after the prefix are refused
// ("10.0.0.1/8" is almost always a typo for a host or for "10.0.0.0/8").
Expected<Cidr, std::string> parse_cidr(std::string_view text);

// Comma-separated, spaces around items ignored; an empty list is allowed (trust no one).
Expected<std::vector<Cidr>, std::string> parse_cidr_list(std::string_view text);

// Whether `ip` (an IPv4 or IPv6 literal; an IPv4-mapped IPv6 address counts as IPv4) is in
// any of the ranges. An unparsable address is in none.
bool in_any(const std::vector<Cidr>& ranges, std::string_view ip);

}  // namespace captain::config
