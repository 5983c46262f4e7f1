#include <gtest/gtest.h>

#include "controller/auth/token_issuer.h"

namespace captain::auth {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kNow = system_clock::time_point(seconds(1'800'000'000));

SecretRing fresh_ring() {
  auto ring = SecretRing::create(kNow);
  EXPECT_TRUE(ring);
  return ring ? *ring : SecretRing{"fallback", "", kNow};
}

TEST(TokenIssuer, IssueThenCheck) {
  TokenIssuer issuer(fresh_ring());
  auto token = issuer.issue(kNow);
  ASSERT_TRUE(token) << token.error();
  auto claims = issuer.check(*token, kNow + seconds(1));
  ASSERT_TRUE(claims);
  EXPECT_EQ((*claims)["sub"], "captain");
  EXPECT_EQ((*claims)["exp"].get<std::int64_t>() - (*claims)["iat"].get<std::int64_t>(),
            kDefaultTokenTtl.count());
}

TEST(TokenIssuer, ExpiresAfterTtl) {
  TokenIssuer issuer(fresh_ring());
  auto token = issuer.issue(kNow, "captain", seconds(60));
  ASSERT_TRUE(token);
  EXPECT_TRUE(issuer.check(*token, kNow + seconds(59)));
  auto late = issuer.check(*token, kNow + seconds(60));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), JwtError::expired);
}

TEST(TokenIssuer, LivesAtLeastItsTtlWhenIssuedLateInASecond) {
  TokenIssuer issuer(fresh_ring());
  const auto late_in_a_second = kNow + std::chrono::milliseconds(950);
  auto token = issuer.issue(late_in_a_second, "captain", seconds(1));
  ASSERT_TRUE(token);
  EXPECT_TRUE(issuer.check(*token, late_in_a_second + std::chrono::milliseconds(900)));
  EXPECT_FALSE(issuer.check(*token, late_in_a_second + seconds(2)));
}

TEST(TokenIssuer, RefusesBadArguments) {
  TokenIssuer issuer(fresh_ring());
  EXPECT_FALSE(issuer.issue(kNow, "captain", seconds(0)));
  EXPECT_FALSE(issuer.issue(kNow, "", seconds(60)));
}

TEST(TokenIssuer, SurvivesOneRotationNotTwo) {
  SecretRing ring = fresh_ring();
  auto token = TokenIssuer(ring).issue(kNow, "captain", hours(24 * 90));
  ASSERT_TRUE(token);

  ASSERT_TRUE(ring.rotate(kNow + hours(1)));
  EXPECT_TRUE(TokenIssuer(ring).check(*token, kNow + hours(2)));

  ASSERT_TRUE(ring.rotate(kNow + hours(3)));
  auto dropped = TokenIssuer(ring).check(*token, kNow + hours(4));
  ASSERT_FALSE(dropped);
  EXPECT_EQ(dropped.error(), JwtError::bad_signature);
}

TEST(TokenIssuer, OtherRingRejected) {
  auto token = TokenIssuer(fresh_ring()).issue(kNow);
  ASSERT_TRUE(token);
  auto result = TokenIssuer(fresh_ring()).check(*token, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), JwtError::bad_signature);
}

TEST(TokenIssuer, TokenWithoutSubjectIsMalformed) {
  SecretRing ring = fresh_ring();
  auto token = jwt_sign(nlohmann::json{{"exp", 1'800'000'100}}, ring.current, kNow);
  ASSERT_TRUE(token);
  auto result = TokenIssuer(ring).check(*token, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), JwtError::malformed);
}

}  // namespace
}  // namespace captain::auth
