#include "shared/request_id/request_id.h"

#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ngx_module/core/id_generator.h"

namespace captain {
namespace {

using Bytes = std::array<std::uint8_t, 16>;

std::string format(RequestIdFormat fmt, const Bytes& bytes) {
  std::array<char, kMaxGeneratedIdLength + 8> buffer;
  buffer.fill('#');
  const std::size_t n = format_request_id(fmt, bytes, buffer.data());
  for (std::size_t i = n; i < buffer.size(); ++i) {
    EXPECT_EQ(buffer[i], '#') << "wrote past the returned length at " << i;
  }
  return std::string(buffer.data(), n);
}

Bytes counting_bytes() {
  Bytes b{};
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i);
  return b;
}

bool is_lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// --- validation of incoming ids -----------------------------------------------------------

TEST(IsValidRequestId, AcceptsOneTo128AllowedCharacters) {
  EXPECT_TRUE(is_valid_request_id("a"));
  EXPECT_TRUE(is_valid_request_id("Z"));
  EXPECT_TRUE(is_valid_request_id("7"));
  EXPECT_TRUE(is_valid_request_id(std::string(128, 'x')));
  EXPECT_TRUE(is_valid_request_id("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
  EXPECT_TRUE(is_valid_request_id("0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(is_valid_request_id("req:2024-01-01T00:00:00.123_ABC"));
}

TEST(IsValidRequestId, AcceptsEveryAllowedCharacter) {
  std::string all;
  for (char c = 'a'; c <= 'z'; ++c) all += c;
  for (char c = 'A'; c <= 'Z'; ++c) all += c;
  for (char c = '0'; c <= '9'; ++c) all += c;
  all += "._:-";
  EXPECT_TRUE(is_valid_request_id(all));
  for (char c : std::string_view("._:-")) {
    EXPECT_TRUE(is_valid_request_id(std::string(1, c))) << c;
    EXPECT_TRUE(is_valid_request_id("id" + std::string(1, c) + "1")) << c;
  }
}

TEST(IsValidRequestId, RejectsEmptyAndOver128Characters) {
  EXPECT_FALSE(is_valid_request_id(""));
  EXPECT_FALSE(is_valid_request_id(std::string(129, 'x')));
  EXPECT_FALSE(is_valid_request_id(std::string(4096, 'x')));
}

TEST(IsValidRequestId, RejectsSeparatorsControlAndNonAsciiBytes) {
  for (std::string_view bad :
       {" ",     "a b",   "a\tb",          "a\rb", "a\nb",  "a\r\nX-Injected: 1",
        "a\"b",  "a'b",   "a;b",           "a,b",  "a/b",   "a=b",
        "a+b",   "a@b",   "a%0d",          "{id}", "a\x7f", "caf\xc3\xa9",
        "a\x80", "a\xff", "\xef\xbb\xbfid"}) {
    EXPECT_FALSE(is_valid_request_id(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_request_id(std::string_view("a\0b", 3)));
}

TEST(IsValidRequestId, AcceptsExactlyTheAllowedByteSet) {
  for (int byte = 0; byte < 256; ++byte) {
    const char c = static_cast<char>(byte);
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
    EXPECT_EQ(is_valid_request_id(std::string(1, c)), allowed) << "byte " << byte;
    EXPECT_EQ(is_valid_request_id("ab" + std::string(1, c) + "cd"), allowed) << "byte " << byte;
  }
}

// --- generated ids --------------------------------------------------------------------------

TEST(FormatRequestId, UuidHasRfc9562LayoutWithVersion4AndVariant10) {
  EXPECT_EQ(format(RequestIdFormat::uuid, counting_bytes()),
            "00010203-0405-4607-8809-0a0b0c0d0e0f");
  EXPECT_EQ(format(RequestIdFormat::uuid, Bytes{}), "00000000-0000-4000-8000-000000000000");
  Bytes ones;
  ones.fill(0xff);
  EXPECT_EQ(format(RequestIdFormat::uuid, ones), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

TEST(FormatRequestId, HexIs32LowercaseHexDigitsOfTheBytes) {
  EXPECT_EQ(format(RequestIdFormat::hex, counting_bytes()), "000102030405060708090a0b0c0d0e0f");
  EXPECT_EQ(format(RequestIdFormat::hex, Bytes{}), std::string(32, '0'));
  Bytes ones;
  ones.fill(0xff);
  EXPECT_EQ(format(RequestIdFormat::hex, ones), std::string(32, 'f'));
}

TEST(FormatRequestId, RandomUuidsAreWellFormedAndHonoredOnTheWayBack) {
  IdGenerator ids;
  ids.seed({1, 2, 3, 4});
  for (int i = 0; i < 2000; ++i) {
    Bytes random;
    ids.fill(random);
    const std::string id = format(RequestIdFormat::uuid, random);
    ASSERT_EQ(id.size(), kUuidLength);
    for (std::size_t pos = 0; pos < id.size(); ++pos) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
        ASSERT_EQ(id[pos], '-') << id;
      } else {
        ASSERT_TRUE(is_lower_hex(id[pos])) << id;
      }
    }
    ASSERT_EQ(id[14], '4') << id;
    ASSERT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos) << id;
    ASSERT_TRUE(is_valid_request_id(id)) << id;
  }
}

TEST(FormatRequestId, RandomHexIdsAreWellFormedAndHonoredOnTheWayBack) {
  IdGenerator ids;
  ids.seed({5, 6, 7, 8});
  for (int i = 0; i < 2000; ++i) {
    Bytes random;
    ids.fill(random);
    const std::string id = format(RequestIdFormat::hex, random);
    ASSERT_EQ(id.size(), kHexIdLength);
    for (char c : id) ASSERT_TRUE(is_lower_hex(c)) << id;
    ASSERT_TRUE(is_valid_request_id(id)) << id;
  }
}

TEST(FormatRequestId, UuidKeepsAllNonVersionNonVariantBits) {
  // Flipping any random bit outside the 6 fixed ones changes the id.
  const Bytes base{};
  const std::string base_id = format(RequestIdFormat::uuid, base);
  for (std::size_t byte = 0; byte < 16; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      const bool fixed = (byte == 6 && bit >= 4) || (byte == 8 && bit >= 6);
      Bytes flipped = base;
      flipped[byte] = static_cast<std::uint8_t>(1u << bit);
      EXPECT_EQ(format(RequestIdFormat::uuid, flipped) != base_id, !fixed)
          << "byte " << byte << " bit " << bit;
    }
  }
}

}  // namespace
}  // namespace captain
