#include "controller/config/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace captain::config {
namespace {

// Long enough for "65535" plus a few leading zeros; anything longer is a typo, not a port.
constexpr std::size_t kMaxPortDigits = 8;
// RFC 1035 limit on a full domain name.
constexpr std::size_t kMaxHostLength = 253;

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A hostname or dotted IPv4 address: dot-separated labels of letters, digits and '-', no label
// empty or starting/ending with '-'. Whether it resolves is the bind step's business.
bool is_valid_hostname(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      const std::string_view label = host.substr(label_start, i - label_start);
      if (label.empty() || label.front() == '-' || label.back() == '-') return false;
      label_start = i + 1;
      continue;
    }
    if (!is_ascii_alnum(host[i]) && host[i] != '-') return false;
  }
  return true;
}

bool is_ipv6_literal(const std::string& host) {
  in6_addr addr{};
  // inet_pton reads a C string: "::1\0junk" would pass as ::1 and keep its junk in `host`.
  return host.find('\0') == std::string::npos && inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

std::string invalid(std::string_view text, std::string_view why) {
  std::string message = "invalid listen address \"";
  message.append(text);
  message.append("\": ");
  message.append(why);
  return message;
}

}  // namespace

std::string ListenAddress::to_string() const {
  const bool bracket = host.find(':') != std::string::npos;
  std::string out;
  if (bracket) out += '[';
  out += host;
  if (bracket) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

Expected<ListenAddress, std::string> parse_listen_address(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  bool ipv6 = false;

  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Unexpected(invalid(text, "missing ']' after the IPv6 address"));
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return Unexpected(invalid(text, "expected [IPV6]:PORT"));
    }
    port_text = rest.substr(1);
    ipv6 = true;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Unexpected(invalid(text, "expected HOST:PORT (for example 127.0.0.1:3000)"));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Unexpected(invalid(text, "an IPv6 address needs brackets: [ADDRESS]:PORT"));
    }
  }

  if (host.empty()) {
    return Unexpected(invalid(
        text, "the host is missing (write 0.0.0.0:PORT or [::]:PORT to listen everywhere)"));
  }
  std::string host_string(host);
  if (ipv6 ? !is_ipv6_literal(host_string) : !is_valid_hostname(host)) {
    return Unexpected(invalid(text, ipv6 ? "not an IPv6 address" : "not a valid host name"));
  }

  if (port_text.empty()) return Unexpected(invalid(text, "the port is missing"));
  if (port_text.size() > kMaxPortDigits) {
    return Unexpected(invalid(text, "the port must be between 1 and 65535"));
  }
  unsigned long port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return Unexpected(invalid(text, "the port must be a decimal number"));
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port < 1 || port > 65535) {
    return Unexpected(invalid(text, "the port must be between 1 and 65535"));
  }

  return ListenAddress{std::move(host_string), static_cast<std::uint16_t>(port)};
}

}  // namespace captain::config
