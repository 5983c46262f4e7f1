// The address the API listens on: parsing "HOST:PORT" and "[IPv6]:PORT", and printing it back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "controller/common/expected.h"

namespace captain::config {

struct ListenAddress {
  std::string host;  // hostname, IPv4 or IPv6 literal (without brackets)
  std::uint16_t port = 0;

  // "HOST:PORT", with brackets around an IPv6 host: the form parse_listen_address() accepts.
  std::string to_string() const;

  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

// Accepts "HOST:PORT" (HOST a hostname or IPv4 address) and "[IPV6]:PORT"; PORT is a decimal
// number 1-65535. The host is required: listening on every interface must be spelled out
// ("0.0.0.0:3000", "[::]:3000"), never implied by ":3000". On failure the message names the
// offending text and says what was expected.
Expected<ListenAddress, std::string> parse_listen_address(std::string_view text);

}  // namespace captain::config
