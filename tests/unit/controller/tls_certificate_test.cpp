// controller/tls: checking a certificate against a name and a time, the self-signed default,
// and the certificate store's view of lego's files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "controller/tls/certificate.h"
#include "controller/tls/certificate_store.h"

namespace captain::tls {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const fs::path kFixtures = fs::path(__FILE__).parent_path() / "fixtures";

CertificatePem fixture() {
  return {read(kFixtures / "test-tls.crt"), read(kFixtures / "test-tls.key")};
}

SystemTime now() {
  return std::chrono::system_clock::now();
}

TEST(Certificate, AcceptsTheNamesItCoversWhileValid) {
  for (const char* name : {"example.com", "web.example.com", "shop.example.org"}) {
    auto info = inspect_certificate(fixture(), name, now());
    ASSERT_TRUE(info) << name << ": " << info.error();
    EXPECT_LT(info->not_before, now());
    EXPECT_GT(info->not_after, now() + hours(24 * 365 * 50));
  }
}

TEST(Certificate, SaysWhyItCannotServe) {
  EXPECT_EQ(inspect_certificate(fixture(), "a.b.example.com", now()).error(),
            "the certificate does not name a.b.example.com");
  auto expired = inspect_certificate(fixture(), "example.com", now() + hours(24 * 365 * 200));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().rfind("the certificate expired on 2126-", 0), 0u) << expired.error();
  EXPECT_EQ(inspect_certificate(fixture(), "example.com", now() - hours(24 * 2))
                .error()
                .rfind("the certificate is not valid before ", 0),
            0u);
  auto other = make_self_signed("example.com", 1);
  ASSERT_TRUE(other);
  EXPECT_EQ(inspect_certificate({fixture().chain, other->key}, "example.com", now()).error(),
            "the private key does not belong to the certificate");
  EXPECT_EQ(inspect_certificate({"garbage", fixture().key}, "example.com", now()).error(),
            "the certificate file holds no PEM certificate");
  EXPECT_EQ(inspect_certificate({fixture().chain, ""}, "example.com", now()).error(),
            "the key file holds no PEM private key");
}

TEST(Certificate, SelfSignedDefaultNamesNothingReal) {
  auto made = make_self_signed("invalid", 3650);
  ASSERT_TRUE(made) << made.error();
  EXPECT_NE(made->chain.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(made->key.find("PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(inspect_certificate(*made, "invalid", now()));
  EXPECT_FALSE(inspect_certificate(*made, "example.com", now()));
  auto validity = certificate_validity(made->chain);
  ASSERT_TRUE(validity);
  EXPECT_GT(validity->not_after, now() + hours(24 * 3649));
  EXPECT_FALSE(certificate_validity("nope"));
}

class CertificateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("captain-certs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "certificates");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void put(const std::string& file, const std::string& text) {
    std::ofstream(dir_ / "certificates" / file, std::ios::binary | std::ios::trunc) << text;
  }
  fs::path dir_;
};

TEST_F(CertificateStoreTest, ReadsLegosFilesAndNoticesChanges) {
  CertificateStore store(dir_);
  auto missing = store.load("web.example.com", now());
  EXPECT_FALSE(missing.pem);
  EXPECT_EQ(missing.problem, "no certificate for web.example.com (" +
                                 (dir_ / "certificates" / "web.example.com.crt").string() +
                                 " is missing)");
  put("web.example.com.crt", fixture().chain);
  put("web.example.com.key", fixture().key);
  auto loaded = store.load("web.example.com", now());
  ASSERT_TRUE(loaded.pem) << loaded.problem;
  EXPECT_EQ(*loaded.pem, fixture());
  ASSERT_TRUE(loaded.info);
  // Corrupted in place (new size): read again, refused, and the dates still known when the
  // certificate itself is readable.
  put("web.example.com.key", "-----BEGIN PRIVATE KEY-----\ngarbage\n");
  auto corrupt = store.load("web.example.com", now());
  EXPECT_FALSE(corrupt.pem);
  EXPECT_NE(corrupt.problem.find("the key file holds no PEM private key"), std::string::npos)
      << corrupt.problem;
  EXPECT_TRUE(corrupt.info);
  auto wrong_name = store.load("other.example.net", now());
  EXPECT_FALSE(wrong_name.pem);
}

}  // namespace
}  // namespace captain::tls
