// controller/config/cidr and controller/api/client_address: which peers' X-Forwarded-For is
// believed, and how far back along the chain.
#include <gtest/gtest.h>

#include "controller/api/client_address.h"
#include "controller/config/cidr.h"

namespace captain {
namespace {

std::vector<config::Cidr> list(const char* text) {
  auto parsed = config::parse_cidr_list(text);
  EXPECT_TRUE(parsed) << parsed.error();
  return parsed ? *parsed : std::vector<config::Cidr>{};
}

TEST(Cidr, ParsesHostsAndRangesOfBothFamilies) {
  const auto ranges = list("10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1");
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_TRUE(config::in_any(ranges, "10.255.0.1"));
  EXPECT_FALSE(config::in_any(ranges, "11.0.0.1"));
  EXPECT_TRUE(config::in_any(ranges, "192.168.1.7"));
  EXPECT_FALSE(config::in_any(ranges, "192.168.1.8"));
  EXPECT_TRUE(config::in_any(ranges, "fd12::5"));
  EXPECT_TRUE(config::in_any(ranges, "::1"));
  EXPECT_FALSE(config::in_any(ranges, "fe80::1"));
  // A dual-stack socket's spelling of an IPv4 peer is that IPv4 address.
  EXPECT_TRUE(config::in_any(ranges, "::ffff:10.1.2.3"));
  EXPECT_FALSE(config::in_any(ranges, "not-an-ip"));
  EXPECT_FALSE(config::in_any(ranges, ""));
  EXPECT_TRUE(config::in_any(list("0.0.0.0/0"), "203.0.113.9"));
  EXPECT_TRUE(list("").empty());
}

TEST(Cidr, RefusesWhatIsAlmostCertainlyATypo) {
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0/8",
                          "example.com", "10.0.0.0/8x", "1.2.3.4/-1"}) {
    EXPECT_FALSE(config::parse_cidr(bad)) << bad;
  }
  EXPECT_EQ(config::parse_cidr("10.0.0.1/8").error(),
            "\"10.0.0.1/8\" has address bits set beyond the prefix; write the network address");
  EXPECT_FALSE(config::parse_cidr_list("10.0.0.0/8, nonsense"));
}

// inet_pton reads up to a NUL: neither a range nor an address may end early there.
TEST(Cidr, AnAddressWithANulByteIsNoAddress) {
  using namespace std::string_view_literals;
  EXPECT_FALSE(config::parse_cidr("10.0.0.0\0junk/8"sv));
  EXPECT_FALSE(config::parse_cidr("::1\0junk"sv));
  EXPECT_FALSE(config::in_any(list("127.0.0.0/8"), "127.0.0.1\0junk"sv));
}

TEST(ClientAddress, AnUntrustedPeerIsTheClientWhateverItSays) {
  const auto trusted = list("127.0.0.0/8");
  EXPECT_EQ(api::client_address("203.0.113.5", "198.51.100.1", "198.51.100.2", trusted),
            "203.0.113.5");
}

TEST(ClientAddress, ATrustedPeerIsBelievedAsFarAsTheChainStaysTrusted) {
  const auto trusted = list("127.0.0.0/8, 10.0.0.0/8");
  // nginx appended the address it saw; what the client sent before it is not believed.
  EXPECT_EQ(api::client_address("127.0.0.1", "203.0.113.5", "", trusted), "203.0.113.5");
  EXPECT_EQ(api::client_address("127.0.0.1", "1.1.1.1, 203.0.113.5", "", trusted), "203.0.113.5");
  // Two trusted proxies in a row: the first untrusted hop from the right.
  EXPECT_EQ(api::client_address("127.0.0.1", "1.1.1.1, 203.0.113.5, 10.0.0.7", "", trusted),
            "203.0.113.5");
  // All trusted: the leftmost.
  EXPECT_EQ(api::client_address("127.0.0.1", "10.0.0.1,10.0.0.2", "", trusted), "10.0.0.1");
  // Garbage stops the walk at the last address a trusted proxy vouched for.
  EXPECT_EQ(api::client_address("127.0.0.1", "evil, 10.0.0.9", "", trusted), "10.0.0.9");
  EXPECT_EQ(api::client_address("127.0.0.1", "  ", "203.0.113.8", trusted), "203.0.113.8");
  EXPECT_EQ(api::client_address("127.0.0.1", "", "nonsense", trusted), "127.0.0.1");
  EXPECT_EQ(api::client_address("127.0.0.1", "2001:db8::1", "", trusted), "2001:db8::1");
}

TEST(ClientAddress, NoTrustedProxiesMeansThePeer) {
  EXPECT_EQ(api::client_address("127.0.0.1", "203.0.113.5", "203.0.113.5", {}), "127.0.0.1");
}

}  // namespace
}  // namespace captain
