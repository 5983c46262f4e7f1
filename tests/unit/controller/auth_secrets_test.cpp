#include <gtest/gtest.h>

#include <set>
#include <string>

#include "controller/auth/base64url.h"
#include "controller/auth/secrets.h"

namespace captain::auth {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kNow = system_clock::time_point(seconds(1'800'000'000));
constexpr seconds kThirtyDays = hours(24 * 30);

TEST(Secret, RandomSecretIsBase64urlOfRequestedSize) {
  auto secret = random_secret();
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->size(), 43u);  // 32 bytes, no padding
  auto raw = base64url_decode(*secret);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->size(), 32u);

  auto longer = random_secret(64);
  ASSERT_TRUE(longer);
  EXPECT_EQ(base64url_decode(*longer)->size(), 64u);
}

TEST(Secret, RandomSecretsDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 32; ++i) {
    auto secret = random_secret();
    ASSERT_TRUE(secret);
    seen.insert(*secret);
  }
  EXPECT_EQ(seen.size(), 32u);
}

TEST(Secret, RandomSecretRejectsBadSizes) {
  EXPECT_FALSE(random_secret(0));
  EXPECT_FALSE(random_secret(kMaxSecretBytes + 1));
}

TEST(SecretRing, CreateHasOnlyCurrent) {
  auto ring = SecretRing::create(kNow);
  ASSERT_TRUE(ring);
  EXPECT_FALSE(ring->current.empty());
  EXPECT_TRUE(ring->previous.empty());
  EXPECT_EQ(ring->rotated_at, kNow);
  EXPECT_EQ(ring->verification_secrets(), std::vector<std::string>{ring->current});
}

TEST(SecretRing, RotateKeepsOnePrevious) {
  auto ring = SecretRing::create(kNow);
  ASSERT_TRUE(ring);
  const std::string first = ring->current;
  ASSERT_TRUE(ring->rotate(kNow + kThirtyDays));
  const std::string second = ring->current;
  EXPECT_NE(second, first);
  EXPECT_EQ(ring->previous, first);
  EXPECT_EQ(ring->rotated_at, kNow + kThirtyDays);
  EXPECT_EQ(ring->verification_secrets(), (std::vector<std::string>{second, first}));

  ASSERT_TRUE(ring->rotate(kNow + 2 * kThirtyDays));
  EXPECT_EQ(ring->previous, second);
  const auto secrets = ring->verification_secrets();
  EXPECT_EQ(std::count(secrets.begin(), secrets.end(), first), 0);  // dropped
}

TEST(SecretRing, NeedsRotationAfterMaxAge) {
  auto ring = SecretRing::create(kNow);
  ASSERT_TRUE(ring);
  EXPECT_FALSE(ring->needs_rotation(kNow, kThirtyDays));
  EXPECT_FALSE(ring->needs_rotation(kNow + kThirtyDays - seconds(1), kThirtyDays));
  EXPECT_TRUE(ring->needs_rotation(kNow + kThirtyDays, kThirtyDays));
  EXPECT_FALSE(ring->needs_rotation(kNow - hours(1), kThirtyDays));  // clock went back
}

TEST(SecretRing, SerializeParseRoundTrip) {
  auto ring = SecretRing::create(kNow);
  ASSERT_TRUE(ring);
  auto parsed = SecretRing::parse(ring->serialize());
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, *ring);

  ASSERT_TRUE(ring->rotate(kNow + kThirtyDays));
  const std::string text = ring->serialize();
  EXPECT_EQ(text.rfind("v1.", 0), 0u);
  parsed = SecretRing::parse(text);
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, *ring);

  // Arbitrary bytes in a secret survive too.
  SecretRing odd{std::string("a.b\0c", 5), "x:y", kNow};
  auto odd_parsed = SecretRing::parse(odd.serialize());
  ASSERT_TRUE(odd_parsed);
  EXPECT_EQ(*odd_parsed, odd);
}

TEST(SecretRing, ParseRejectsGarbage) {
  for (const char* text : {"", "v1", "v1.1.a", "v1.1.YQ.YQ.YQ", "v2.1.YQ.", "v1..YQ.", "v1.x.YQ.",
                           "v1.1x.YQ.", "v1.1..", "v1.1.Y=.", "v1.1.YQ.+",
                           "v1.99999999999999999999.YQ.", "v1.9223372036854775807.YQ."}) {
    EXPECT_FALSE(SecretRing::parse(text)) << text;
  }
  auto ok = SecretRing::parse("v1.1800000000.YQ.");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->current, "a");
  EXPECT_TRUE(ok->previous.empty());
  EXPECT_EQ(ok->rotated_at, kNow);
}

}  // namespace
}  // namespace captain::auth

namespace captain::auth {
namespace {

TEST(SameSecret, MatchesOnlyTheWholeSecretAndNeverAnEmptyOne) {
  EXPECT_TRUE(same_secret("0123456789abcdef", "0123456789abcdef"));
  EXPECT_FALSE(same_secret("0123456789abcdef", "0123456789abcdeX"));
  EXPECT_FALSE(same_secret("0123456789abcdef", "0123456789abcde"));
  EXPECT_FALSE(same_secret("", ""));
}

}  // namespace
}  // namespace captain::auth
