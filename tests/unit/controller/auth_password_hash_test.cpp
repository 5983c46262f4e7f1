#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "controller/auth/password_hash.h"

namespace captain::auth {
namespace {

// yescrypt at default cost takes tens of milliseconds: one shared hash serves most tests.
const std::string& stored_hash_of_secret() {
  static const std::string hash = [] {
    auto hashed = hash_password("correct horse battery staple");
    return hashed ? *hashed : std::string();
  }();
  return hash;
}

TEST(PasswordHash, RoundTrip) {
  const std::string& stored = stored_hash_of_secret();
  ASSERT_FALSE(stored.empty());
  EXPECT_TRUE(verify_password("correct horse battery staple", stored));
}

TEST(PasswordHash, IsSelfDescribingYescryptAndNotThePlainText) {
  const std::string& stored = stored_hash_of_secret();
  EXPECT_EQ(stored.rfind("$y$", 0), 0u) << stored;
  EXPECT_EQ(stored.find("correct horse"), std::string::npos);
}

TEST(PasswordHash, WrongPasswordIsRejected) {
  const std::string& stored = stored_hash_of_secret();
  EXPECT_FALSE(verify_password("correct horse battery stapl", stored));
  EXPECT_FALSE(verify_password("Correct horse battery staple", stored));
  EXPECT_FALSE(verify_password("correct horse battery staple ", stored));
}

TEST(PasswordHash, SaltDiffersPerCall) {
  auto first = hash_password("same password");
  auto second = hash_password("same password");
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_NE(*first, *second);
  EXPECT_TRUE(verify_password("same password", *first));
  EXPECT_TRUE(verify_password("same password", *second));
}

TEST(PasswordHash, RefusesEmptyNulAndOverlongPasswords) {
  auto empty = hash_password("");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("empty"), std::string::npos);

  auto with_nul = hash_password(std::string("abc\0def", 7));
  ASSERT_FALSE(with_nul);
  EXPECT_NE(with_nul.error().find("NUL"), std::string::npos);

  auto overlong = hash_password(std::string(kMaxPasswordLength + 1, 'a'));
  ASSERT_FALSE(overlong);
  EXPECT_NE(overlong.error().find("1024"), std::string::npos);
}

TEST(PasswordHash, NulTruncationCannotMatch) {
  // "correct horse battery staple\0anything" must not verify as the prefix before the NUL.
  const std::string& stored = stored_hash_of_secret();
  EXPECT_FALSE(verify_password(std::string("correct horse battery staple\0x", 30), stored));
  EXPECT_FALSE(verify_password("", stored));
}

TEST(PasswordHash, MalformedStoredHashIsFalseNotACrash) {
  const std::string& stored = stored_hash_of_secret();
  const std::vector<std::string> garbage = {
      "",
      "plain",
      "$y$",
      "$y$$$",
      "$y$j9T$",
      "$y$zzzzzz$abc$def",
      "*0",
      "*",
      "$1$abcdefgh$",                       // md5-crypt: refused, only yescrypt is honoured
      "$6$saltsalt$",                       // sha512-crypt
      "ab01FAX.bQRSU",                      // DES
      stored.substr(0, stored.size() - 1),  // truncated
      stored + "x",                         // extended
      std::string("$y$j9T$\0abc", 11),      // embedded NUL
      std::string(5000, '$'),
  };
  for (const std::string& bad : garbage) {
    EXPECT_FALSE(verify_password("correct horse battery staple", bad)) << bad;
  }
  std::string flipped = stored;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_password("correct horse battery staple", flipped));
}

TEST(PasswordHash, VerifyIsThreadSafe) {
  const std::string& stored = stored_hash_of_secret();
  ASSERT_FALSE(stored.empty());
  std::vector<int> results(4, -1);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      const bool good = i % 2 == 0;
      const bool ok =
          verify_password(good ? "correct horse battery staple" : "wrong guess", stored);
      results[i] = ok == good ? 1 : 0;
    });
  }
  for (auto& thread : threads) thread.join();
  for (int result : results) EXPECT_EQ(result, 1);
}

}  // namespace
}  // namespace captain::auth
