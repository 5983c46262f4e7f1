#include "controller/config/cidr.h"

#include <arpa/inet.h>

#include <charconv>
#include <optional>

namespace captain::config {
namespace {

struct Parsed {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

std::optional<Parsed> parse_ip(std::string_view text) {
  // inet_pton reads a C string: "127.0.0.1\0junk" would pass as 127.0.0.1.
  if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string s(text);
  Parsed p;
  if (inet_pton(AF_INET, s.c_str(), p.bytes.data()) == 1) return p;
  if (inet_pton(AF_INET6, s.c_str(), p.bytes.data()) == 1) {
    // ::ffff:a.b.c.d is how a dual-stack socket reports an IPv4 peer.
    static constexpr std::array<std::uint8_t, 12> kMapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped.begin(), kMapped.end(), p.bytes.begin())) {
      std::array<std::uint8_t, 16> v4{};
      std::copy(p.bytes.begin() + 12, p.bytes.end(), v4.begin());
      p.bytes = v4;
      return p;
    }
    p.v6 = true;
    return p;
  }
  return std::nullopt;
}

bool matches(const Cidr& range, const Parsed& ip) {
  if (range.v6 != ip.v6) return false;
  int bits = range.prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((range.address[i] & mask) != (ip.bytes[i] & mask)) return false;
  }
  return true;
}

}  // namespace

Expected<Cidr, std::string> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  auto ip = parse_ip(host);
  if (!ip) {
    return Unexpected("\"" + std::string(text) + "\" is not an IP address or CIDR range");
  }
  Cidr out;
  out.v6 = ip->v6;
  out.address = ip->bytes;
  out.prefix = ip->v6 ? 128 : 32;
  out.text = std::string(text);
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || prefix < 0 ||
        prefix > out.prefix) {
      return Unexpected("\"" + std::string(text) + "\": the prefix must be 0 to " +
                        std::to_string(out.prefix));
    }
    out.prefix = prefix;
  }
  for (int bit = out.prefix; bit < (out.v6 ? 128 : 32); ++bit) {
    if (out.address[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8))) {
      return Unexpected("\"" + std::string(text) +
                        "\" has address bits set beyond the prefix; write the network address");
    }
  }
  return out;
}

Expected<std::vector<Cidr>, std::string> parse_cidr_list(std::string_view text) {
  std::vector<Cidr> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      auto cidr = parse_cidr(item);
      if (!cidr) return Unexpected(cidr.error());
      out.push_back(std::move(*cidr));
    }
    start = comma + 1;
  }
  return out;
}

bool in_any(const std::vector<Cidr>& ranges, std::string_view ip) {
  auto parsed = parse_ip(ip);
  if (!parsed) return false;
  for (const auto& range : ranges) {
    if (matches(range, *parsed)) return true;
  }
  return false;
}

}  // namespace captain::config
