#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>
#include <vector>

#include "controller/auth/base64url.h"
#include "controller/auth/jwt.h"

namespace captain::auth {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using std::chrono::system_clock;

const system_clock::time_point kNow = system_clock::time_point(seconds(1'800'000'000));
const std::vector<std::string> kSecrets = {"current-secret"};

std::int64_t at(seconds offset) {
  return (kNow + offset).time_since_epoch() / seconds(1);
}

std::string sign_ok(const json& claims, const std::string& secret = "current-secret") {
  auto token = jwt_sign(claims, secret, kNow);
  EXPECT_TRUE(token);
  return token ? *token : std::string();
}

json session_claims() {
  return {{"sub", "captain"}, {"exp", at(seconds(3600))}};
}

std::vector<std::string> split(const std::string& token) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t dot; (dot = token.find('.', start)) != std::string::npos; start = dot + 1) {
    parts.push_back(token.substr(start, dot - start));
  }
  parts.push_back(token.substr(start));
  return parts;
}

// A token with an arbitrary header, correctly HMAC-SHA256-signed with `secret`, so only the
// header can be what makes verification fail.
std::string forge(const std::string& header_json, const json& claims,
                  const std::string& secret = "current-secret") {
  const std::string input = base64url_encode(header_json) + "." + base64url_encode(claims.dump());
  unsigned char mac[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), length));
}

TEST(Jwt, RoundTrip) {
  const std::string token = sign_ok(session_claims());
  EXPECT_EQ(split(token).size(), 3u);
  auto claims = jwt_verify(token, kSecrets, kNow);
  ASSERT_TRUE(claims) << to_string(claims.error());
  EXPECT_EQ((*claims)["sub"], "captain");
  EXPECT_EQ((*claims)["exp"], at(seconds(3600)));
  EXPECT_EQ((*claims)["iat"], at(seconds(0)));  // added by jwt_sign
}

TEST(Jwt, HeaderIsHs256JwtWithoutPadding) {
  const std::string token = sign_ok(session_claims());
  EXPECT_EQ(token.find('='), std::string::npos);
  auto header = base64url_decode(split(token)[0]);
  ASSERT_TRUE(header);
  EXPECT_EQ(json::parse(*header), json::parse(R"({"alg":"HS256","typ":"JWT"})"));
}

TEST(Jwt, StandardHeaderEncoding) {
  auto token = jwt_sign(json{{"sub", "captain"}, {"exp", 1800003600}}, "secret", kNow);
  ASSERT_TRUE(token);
  EXPECT_EQ(split(*token)[0], "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
}

TEST(Jwt, TamperedPayloadIsBadSignature) {
  auto parts = split(sign_ok(session_claims()));
  json evil = session_claims();
  evil["sub"] = "admin";
  evil["iat"] = at(seconds(0));
  const std::string token = parts[0] + "." + base64url_encode(evil.dump()) + "." + parts[2];
  auto result = jwt_verify(token, kSecrets, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), JwtError::bad_signature);
}

TEST(Jwt, TamperedSignatureIsBadSignature) {
  auto parts = split(sign_ok(session_claims()));
  std::string sig = parts[2];
  sig[5] = sig[5] == 'A' ? 'B' : 'A';
  auto result = jwt_verify(parts[0] + "." + parts[1] + "." + sig, kSecrets, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), JwtError::bad_signature);

  // Truncated signature (valid base64url, wrong length).
  auto short_sig =
      jwt_verify(parts[0] + "." + parts[1] + "." + parts[2].substr(0, 40), kSecrets, kNow);
  ASSERT_FALSE(short_sig);
  EXPECT_EQ(short_sig.error(), JwtError::bad_signature);
}

TEST(Jwt, ExpiredAtAndAfterExp) {
  const std::string token = sign_ok(session_claims());
  EXPECT_TRUE(jwt_verify(token, kSecrets, kNow + seconds(3599)));
  for (auto when : {kNow + seconds(3600), kNow + seconds(100000)}) {
    auto result = jwt_verify(token, kSecrets, when);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), JwtError::expired);
  }
}

TEST(Jwt, MissingOrNonNumericExpIsMalformed) {
  for (const json& claims :
       {json{{"sub", "captain"}}, json{{"exp", "tomorrow"}}, json{{"exp", nullptr}},
        json{{"exp", at(seconds(60))}, {"nbf", "soon"}}}) {
    auto result = jwt_verify(sign_ok(claims), kSecrets, kNow);
    ASSERT_FALSE(result) << claims.dump();
    EXPECT_EQ(result.error(), JwtError::malformed) << claims.dump();
  }
}

TEST(Jwt, NotYetValidBeyondSkew) {
  json within = session_claims();
  within["nbf"] = at(seconds(59));
  EXPECT_TRUE(jwt_verify(sign_ok(within), kSecrets, kNow));

  json future_nbf = session_claims();
  future_nbf["nbf"] = at(seconds(120));
  auto result = jwt_verify(sign_ok(future_nbf), kSecrets, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), JwtError::not_yet_valid);

  json future_iat = session_claims();
  future_iat["iat"] = at(seconds(600));
  auto iat_result = jwt_verify(sign_ok(future_iat), kSecrets, kNow);
  ASSERT_FALSE(iat_result);
  EXPECT_EQ(iat_result.error(), JwtError::not_yet_valid);
}

TEST(Jwt, WrongSecretIsBadSignature) {
  const std::string token = sign_ok(session_claims(), "someone-else");
  auto result = jwt_verify(token, kSecrets, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), JwtError::bad_signature);
}

TEST(Jwt, RotationPreviousSecretAcceptedDroppedRejected) {
  const std::string old_token = sign_ok(session_claims(), "old-secret");
  const std::vector<std::string> after_rotation = {"new-secret", "old-secret"};
  EXPECT_TRUE(jwt_verify(old_token, after_rotation, kNow));
  EXPECT_TRUE(jwt_verify(sign_ok(session_claims(), "new-secret"), after_rotation, kNow));

  const std::vector<std::string> after_second_rotation = {"newest-secret", "new-secret"};
  auto result = jwt_verify(old_token, after_second_rotation, kNow);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), JwtError::bad_signature);
}

TEST(Jwt, EmptySecretsNeverVerify) {
  const std::vector<std::string> none;
  const std::vector<std::string> only_empty = {""};
  const std::string token = sign_ok(session_claims());
  EXPECT_FALSE(jwt_verify(token, none, kNow));
  EXPECT_FALSE(jwt_verify(token, only_empty, kNow));
  EXPECT_FALSE(jwt_sign(session_claims(), "", kNow));
}

TEST(Jwt, AlgNoneAndOthersAreWrongAlgorithm) {
  const json claims = json{{"sub", "captain"}, {"exp", at(seconds(3600))}, {"iat", at({})}};
  for (const char* header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"HS512","typ":"JWT"})",
                             R"({"alg":"RS256"})", R"({"alg":"hs256"})", R"({"alg":"NONE"})"}) {
    auto result = jwt_verify(forge(header, claims), kSecrets, kNow);
    ASSERT_FALSE(result) << header;
    EXPECT_EQ(result.error(), JwtError::wrong_algorithm) << header;
  }
  // The classic "none" attack: empty signature part.
  const std::string unsigned_token =
      base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(claims.dump()) + ".";
  auto result = jwt_verify(unsigned_token, kSecrets, kNow);
  EXPECT_FALSE(result);
}

TEST(Jwt, HeaderShapeChecks) {
  const json claims = json{{"sub", "captain"}, {"exp", at(seconds(3600))}, {"iat", at({})}};
  for (const char* header : {R"({"typ":"JWT"})", R"({"alg":256})", R"({"alg":"HS256","typ":"x"})",
                             R"({"alg":"HS256","crit":["b64"]})", R"(["HS256"])", "not json"}) {
    auto result = jwt_verify(forge(header, claims), kSecrets, kNow);
    ASSERT_FALSE(result) << header;
    EXPECT_EQ(result.error(), JwtError::malformed) << header;
  }
  // typ is optional, and the forging helper does produce valid tokens.
  EXPECT_TRUE(jwt_verify(forge(R"({"alg":"HS256"})", claims), kSecrets, kNow));
  EXPECT_TRUE(jwt_verify(forge(R"({"typ":"JWT","alg":"HS256"})", claims), kSecrets, kNow));
}

TEST(Jwt, MalformedBase64IsMalformed) {
  auto parts = split(sign_ok(session_claims()));
  const std::vector<std::string> tokens = {
      parts[0] + "=." + parts[1] + "." + parts[2],       // padding
      parts[0] + "." + parts[1] + "." + parts[2] + "=",  // padding on the signature
      parts[0] + "." + parts[1] + "." + parts[2] + "==",
      "e+J." + parts[1] + "." + parts[2],  // standard-alphabet character
      parts[0] + "." + parts[1] + "." + parts[2].substr(0, 42) + "/",
      parts[0] + " ." + parts[1] + "." + parts[2],        // whitespace
      parts[0] + "." + parts[1] + "." + parts[2] + "AA",  // impossible length 4n+1
  };
  for (const std::string& token : tokens) {
    auto result = jwt_verify(token, kSecrets, kNow);
    ASSERT_FALSE(result) << token;
    EXPECT_EQ(result.error(), JwtError::malformed) << token;
  }
}

TEST(Jwt, GarbageInputsAreMalformed) {
  const std::string good = sign_ok(session_claims());
  const std::vector<std::string> tokens = {
      "",
      ".",
      "..",
      "a.b",
      "a.b.c.d",
      good + ".",
      "." + good,
      std::string(kMaxJwtLength + 1, 'a'),
      std::string("eyJ\0.x.y", 8),
      "\xff\xfe.\x80.\x01",
      base64url_encode("{") + "." + base64url_encode("{}") + ".AAAA",
  };
  for (const std::string& token : tokens) {
    auto result = jwt_verify(token, kSecrets, kNow);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error(), JwtError::malformed);
  }
}

TEST(Jwt, AuthenticNonObjectOrBrokenPayloadIsMalformed) {
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  for (const json& payload : {json::array({1, 2}), json("text"), json(42), json(nullptr)}) {
    auto result = jwt_verify(forge(header, payload), kSecrets, kNow);
    ASSERT_FALSE(result) << payload.dump();
    EXPECT_EQ(result.error(), JwtError::malformed) << payload.dump();
  }
}

TEST(Jwt, FractionalNumericDatesAreAccepted) {
  json claims = {{"sub", "captain"}, {"exp", static_cast<double>(at(seconds(10))) + 0.5}};
  EXPECT_TRUE(jwt_verify(forge(R"({"alg":"HS256"})", claims), kSecrets, kNow));
}

TEST(Jwt, SignRefusesNonObjectClaims) {
  EXPECT_FALSE(jwt_sign(json::array({1, 2}), "current-secret", kNow));
  EXPECT_FALSE(jwt_sign(json("string"), "current-secret", kNow));
}

TEST(Jwt, SignRefusesInvalidUtf8WithoutThrowing) {
  json claims = session_claims();
  claims["name"] = std::string("\xff\xfe");
  auto token = jwt_sign(claims, "current-secret", kNow);
  EXPECT_FALSE(token);
}

TEST(Jwt, ErrorNames) {
  EXPECT_EQ(to_string(JwtError::malformed), "malformed");
  EXPECT_EQ(to_string(JwtError::bad_signature), "bad_signature");
  EXPECT_EQ(to_string(JwtError::expired), "expired");
  EXPECT_EQ(to_string(JwtError::not_yet_valid), "not_yet_valid");
  EXPECT_EQ(to_string(JwtError::wrong_algorithm), "wrong_algorithm");
}

TEST(JwtBase64url, EncodeDecodeRoundTrip) {
  for (std::string bytes : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                            std::string("foob"), std::string("\0\xff\xfe", 3)}) {
    const std::string encoded = base64url_encode(bytes);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    auto decoded = base64url_decode(encoded);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, bytes);
  }
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
}

TEST(JwtBase64url, StrictDecoding) {
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_FALSE(base64url_decode("Z"));
  EXPECT_FALSE(base64url_decode("Zh"));  // non-zero trailing bits: non-canonical "f"
  EXPECT_TRUE(base64url_decode("Zg"));
  EXPECT_FALSE(base64url_decode("+/8"));
  EXPECT_FALSE(base64url_decode("Zm9v\n"));
}

}  // namespace
}  // namespace captain::auth
