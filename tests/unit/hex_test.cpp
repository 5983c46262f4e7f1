#include "shared/encoding/hex.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace captain {
namespace {

// Straightforward reference: two lowercase digits per byte, high nibble first.
std::string reference_hex(const std::vector<std::uint8_t>& bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0f];
  }
  return out;
}

std::string encode(const std::vector<std::uint8_t>& bytes) {
  // Guard characters on both sides catch writes outside [0, 2 * size).
  std::string buffer(2 * bytes.size() + 16, '#');
  hex_encode(bytes.data(), bytes.size(), buffer.data() + 8);
  EXPECT_EQ(buffer.substr(0, 8), "########");
  EXPECT_EQ(buffer.substr(buffer.size() - 8), "########");
  return buffer.substr(8, 2 * bytes.size());
}

TEST(HexEncode, EncodesEveryByteValueAsTwoLowercaseDigits) {
  std::vector<std::uint8_t> all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<std::uint8_t>(b));
  const std::string hex = encode(all);
  EXPECT_EQ(hex, reference_hex(all));
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(2 * 0xab, 2), "ab");
  EXPECT_EQ(hex.substr(2 * 0xff, 2), "ff");
}

TEST(HexEncode, EveryLengthAndAlignmentMatchesTheReference) {
  std::vector<std::uint8_t> data;
  for (int i = 0; i < 64; ++i) data.push_back(static_cast<std::uint8_t>(i * 73 + 11));
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t length = 0; offset + length <= data.size(); ++length) {
      const std::vector<std::uint8_t> slice(
          data.begin() + static_cast<std::ptrdiff_t>(offset),
          data.begin() + static_cast<std::ptrdiff_t>(offset + length));
      ASSERT_EQ(encode(slice), reference_hex(slice)) << "offset " << offset << " length " << length;
    }
  }
}

TEST(HexEncode, ZeroBytesWritesNothing) {
  EXPECT_EQ(encode({}), "");
}

TEST(LowerHexValue, AcceptsOnlyLowercaseHexDigits) {
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    int expected = -1;
    if (ch >= '0' && ch <= '9') expected = ch - '0';
    if (ch >= 'a' && ch <= 'f') expected = ch - 'a' + 10;
    EXPECT_EQ(lower_hex_value(ch), expected) << "byte " << c;
  }
}

TEST(HexDecodeLower, DecodesExactLengthLowercase) {
  std::uint8_t out[4] = {};
  ASSERT_TRUE(hex_decode_lower("00f067ab", out, 4));
  EXPECT_EQ(out[0], 0x00);
  EXPECT_EQ(out[1], 0xf0);
  EXPECT_EQ(out[2], 0x67);
  EXPECT_EQ(out[3], 0xab);
  EXPECT_TRUE(hex_decode_lower("", out, 0));
}

TEST(HexDecodeLower, RejectsUppercaseNonHexAndWrongLength) {
  std::uint8_t out[4] = {};
  EXPECT_FALSE(hex_decode_lower("00F067ab", out, 4));
  EXPECT_FALSE(hex_decode_lower("00f067aB", out, 4));
  EXPECT_FALSE(hex_decode_lower("00f067ag", out, 4));
  EXPECT_FALSE(hex_decode_lower("00f067a ", out, 4));
  EXPECT_FALSE(hex_decode_lower("-0f067ab", out, 4));
  EXPECT_FALSE(hex_decode_lower("00f067a", out, 4));
  EXPECT_FALSE(hex_decode_lower("00f067abc", out, 4));
  EXPECT_FALSE(hex_decode_lower("", out, 4));
}

TEST(HexDecodeLower, RoundTripsWithEncode) {
  std::vector<std::uint8_t> all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<std::uint8_t>(255 - b));
  const std::string hex = encode(all);
  std::vector<std::uint8_t> back(all.size());
  ASSERT_TRUE(hex_decode_lower(hex, back.data(), back.size()));
  EXPECT_EQ(back, all);
}

}  // namespace
}  // namespace captain
