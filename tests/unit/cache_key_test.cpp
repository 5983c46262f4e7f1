// Accept-Encoding classes, variant keys, Vary classification and the key hash.
#include "ngx_module/core/cache/cache_key.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace captain::cache {
namespace {

EncodingSet accepted(std::string_view line) {
  AcceptEncoding ae;
  parse_accept_encoding(line, ae);
  return ae.set();
}

std::string_view normalized(std::string_view line) {
  return normalized_accept_encoding(accepted(line));
}

TEST(CacheKeyAcceptEncoding, CommonBrowserValues) {
  EXPECT_EQ(normalized("gzip, deflate, br, zstd"), "br, gzip, zstd");
  EXPECT_EQ(normalized("gzip, deflate, br"), "br, gzip");
  EXPECT_EQ(normalized("gzip"), "gzip");
  EXPECT_EQ(normalized("x-gzip"), "gzip");
  EXPECT_EQ(normalized("BR , GZip"), "br, gzip");
  EXPECT_EQ(normalized(""), "identity");
  EXPECT_EQ(normalized("identity"), "identity");
  EXPECT_EQ(normalized("deflate, compress"), "identity");
}

TEST(CacheKeyAcceptEncoding, OrderOfTheClientDoesNotMatter) {
  EXPECT_EQ(accepted("br, gzip"), accepted("gzip;q=0.5, br;q=1.0"));
}

TEST(CacheKeyAcceptEncoding, ZeroQRefuses) {
  EXPECT_EQ(normalized("gzip;q=0, br"), "br");
  EXPECT_EQ(normalized("gzip; q=0.000, br;q=0.001"), "br");
  EXPECT_EQ(normalized("gzip;Q=0"), "identity");
  EXPECT_EQ(normalized("gzip;q=1"), "gzip");
}

TEST(CacheKeyAcceptEncoding, InvalidWeightMakesMemberUnusable) {
  EXPECT_EQ(normalized("gzip;q=2, br"), "br");
  EXPECT_EQ(normalized("gzip;q=1.5"), "identity");
  EXPECT_EQ(normalized("gzip;q=0.12345"), "identity");
  EXPECT_EQ(normalized("gzip;q=abc"), "identity");
}

TEST(CacheKeyAcceptEncoding, WildcardCoversUnlistedOnly) {
  EXPECT_EQ(normalized("*"), "br, gzip, zstd");
  EXPECT_EQ(normalized("*, gzip;q=0"), "br, zstd");
  EXPECT_EQ(normalized("*;q=0, gzip"), "gzip");
}

TEST(CacheKeyAcceptEncoding, SeveralLinesAccumulate) {
  AcceptEncoding ae;
  parse_accept_encoding("gzip", ae);
  parse_accept_encoding("br", ae);
  EXPECT_EQ(normalized_accept_encoding(ae.set()), "br, gzip");
}

TEST(CacheKeyVariant, WritesBaseSeparatorAndClass) {
  const std::string base = "GET example.com/api/items?x=1";
  std::string out(variant_key_capacity(base.size()), '?');
  const std::size_t n = write_variant_key(base, kGzip | kBrotli, out.data(), out.size());
  ASSERT_GT(n, 0u);
  EXPECT_EQ(out.substr(0, n), base + kVariantSeparator + "br, gzip");
  // Every class fits in the advertised capacity.
  for (unsigned set = 0; set < 8; ++set) {
    EXPECT_GT(write_variant_key(base, static_cast<EncodingSet>(set), out.data(), out.size()), 0u);
  }
  EXPECT_EQ(write_variant_key(base, kGzip, out.data(), base.size() + 4), 0u);
  EXPECT_EQ(write_variant_key(base, kGzip, out.data(), base.size() + 5), base.size() + 5);
}

TEST(CacheKeyVariant, VariantKeysShareTheBasePrefix) {
  char a[64];
  char b[64];
  const std::size_t na = write_variant_key("/a", 0, a, sizeof a);
  const std::size_t nb = write_variant_key("/a", kZstd, b, sizeof b);
  EXPECT_EQ(std::string_view(a, na).substr(0, 3), std::string_view("/a\x1f", 3));
  EXPECT_NE(std::string_view(a, na), std::string_view(b, nb));
}

Vary vary(std::string_view line) {
  Vary v = Vary::none;
  parse_vary(line, v);
  return v;
}

TEST(CacheKeyVary, Classification) {
  EXPECT_EQ(vary(""), Vary::none);
  EXPECT_EQ(vary(" , "), Vary::none);
  EXPECT_EQ(vary("Accept-Encoding"), Vary::accept_encoding);
  EXPECT_EQ(vary("accept-encoding, ACCEPT-ENCODING"), Vary::accept_encoding);
  EXPECT_EQ(vary("*"), Vary::other);
  EXPECT_EQ(vary("Accept-Encoding, Cookie"), Vary::other);
  EXPECT_EQ(vary("User-Agent"), Vary::other);
  Vary v = Vary::none;
  parse_vary("Accept-Encoding", v);
  parse_vary("Origin", v);
  EXPECT_EQ(v, Vary::other);
  parse_vary("Accept-Encoding", v);
  EXPECT_EQ(v, Vary::other);
}

TEST(CacheKeyHash, SeededAndDeterministic) {
  EXPECT_EQ(hash_key("/a", 1), hash_key("/a", 1));
  EXPECT_NE(hash_key("/a", 1), hash_key("/a", 2));
  EXPECT_NE(hash_key("/a", 1), hash_key("/b", 1));
  EXPECT_EQ(hash_key("", 7), hash_key(std::string_view(), 7));
}

}  // namespace
}  // namespace captain::cache
