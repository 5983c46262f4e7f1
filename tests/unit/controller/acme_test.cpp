// controller/acme: lego's failures turned into errors a user can act on, when a certificate is
// due, the retry backoff, and the certificate manager's renewal pass (with a fake client that
// "issues" by writing files where lego would).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/acme/acme_client.h"
#include "controller/acme/certificate_manager.h"

namespace captain::acme {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;

const std::string kDirectory = "https://127.0.0.1:14000/dir";

// What lego 4.9 printed here, for a challenge the CA could not reach and for a CA that was down.
const std::string kChallengeFailed =
    "2026/12/06 21:29:03 [INFO] [bad.test.example] acme: Trying to solve HTTP-01\n"
    "2026/12/06 21:29:03 [INFO] Deactivating auth: https://127.0.0.1:14000/authZ/Pzg\n"
    "2026/12/06 21:29:03 Could not obtain certificates:\n"
    "\terror: one or more domains had a problem:\n"
    "[bad.test.example] acme: error: 400 :: urn:ietf:params:acme:error:connection :: Get "
    "\"http://bad.test.example:18080/.well-known/acme-challenge/3E7\": dial tcp "
    "127.0.0.9:18080: connect: connection refused\n";
const std::string kUnreachable =
    "2026/12/06 21:29:03 No key found for account a@example.com. Generating a P256 key.\n"
    "2026/12/06 21:29:03 Could not create client: get directory at "
    "'https://127.0.0.1:14999/dir': Get \"https://127.0.0.1:14999/dir\": dial tcp "
    "127.0.0.1:14999: connect: connection refused\n";

TEST(LegoFailure, AChallengeTheCaCouldNotCompleteIsARefusalInTheCasWords) {
  const AcmeError e = classify_lego_failure(kChallengeFailed, 1, false, kDirectory);
  EXPECT_EQ(e.kind, AcmeError::Kind::refused);
  EXPECT_EQ(e.message,
            "the ACME CA refused the certificate: 400 :: "
            "urn:ietf:params:acme:error:connection :: Get "
            "\"http://bad.test.example:18080/.well-known/acme-challenge/3E7\": dial tcp "
            "127.0.0.9:18080: connect: connection refused");
}

TEST(LegoFailure, ACaThatCannotBeReachedSaysSo) {
  const AcmeError e = classify_lego_failure(kUnreachable, 1, false, kDirectory);
  EXPECT_EQ(e.kind, AcmeError::Kind::unreachable);
  EXPECT_EQ(e.message, "ACME CA " + kDirectory +
                           " unreachable: get directory at 'https://127.0.0.1:14999/dir': Get "
                           "\"https://127.0.0.1:14999/dir\": dial tcp 127.0.0.1:14999: connect: "
                           "connection refused");
}

TEST(LegoFailure, AnythingElseNamesTheClientAndItsLastWords) {
  EXPECT_EQ(classify_lego_failure("", 0, true, kDirectory).kind, AcmeError::Kind::failed);
  const AcmeError e = classify_lego_failure("panic: boom\n\nmain.go:42\n", 2, false, kDirectory);
  EXPECT_EQ(e.kind, AcmeError::Kind::failed);
  EXPECT_EQ(e.message, "the ACME client failed (exit status 2): main.go:42");
}

tls::CertificateInfo lifetime(tls::SystemTime start, hours length) {
  return {start, start + length};
}

TEST(Renewal, DueWhenAThirdOfTheLifetimeIsLeft) {
  const auto t0 = std::chrono::system_clock::now();
  const auto ninety_days = lifetime(t0, hours(24 * 90));
  RenewalPolicy policy;
  EXPECT_FALSE(renewal_due(ninety_days, t0 + hours(24 * 59), policy));
  EXPECT_TRUE(renewal_due(ninety_days, t0 + hours(24 * 60), policy));
  EXPECT_TRUE(renewal_due(ninety_days, t0 + hours(24 * 100), policy));
  policy.renew_before = hours(24 * 10);
  EXPECT_FALSE(renewal_due(ninety_days, t0 + hours(24 * 79), policy));
  EXPECT_TRUE(renewal_due(ninety_days, t0 + hours(24 * 80), policy));
}

TEST(Renewal, RetriesBackOffExponentiallyUpToTheCap) {
  RenewalPolicy policy;
  policy.retry_min = seconds(60);
  policy.retry_max = seconds(3600);
  EXPECT_EQ(retry_delay(1, policy), seconds(60));
  EXPECT_EQ(retry_delay(2, policy), seconds(120));
  EXPECT_EQ(retry_delay(4, policy), seconds(480));
  EXPECT_EQ(retry_delay(7, policy), seconds(3600));
  EXPECT_EQ(retry_delay(1000, policy), seconds(3600));
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "Issues" by copying the test certificate (example.com, *.example.com) where lego writes.
class FakeClient : public AcmeClient {
 public:
  explicit FakeClient(fs::path dir) : dir_(std::move(dir)) {}
  Expected<void, AcmeError> obtain(const std::string& domain, const std::string& email) override {
    calls.push_back(domain + " " + email);
    if (fail) return Unexpected(AcmeError{AcmeError::Kind::unreachable, "CA down"});
    const fs::path fixtures = fs::path(__FILE__).parent_path() / "fixtures";
    fs::create_directories(dir_ / "certificates");
    std::ofstream(dir_ / "certificates" / (domain + ".crt")) << read(fixtures / "test-tls.crt");
    std::ofstream(dir_ / "certificates" / (domain + ".key")) << read(fixtures / "test-tls.key");
    return {};
  }
  std::vector<std::string> calls;
  bool fail = false;

 private:
  fs::path dir_;
};

fs::path fresh_dir() {
  const fs::path dir =
      fs::temp_directory_path() / ("captain-acme-" + std::to_string(::getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  return dir;
}

class ManagerTest : public ::testing::Test {
 protected:
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<CertificateManager> manager(RenewalPolicy policy) {
    return std::make_unique<CertificateManager>(
        client_, store_, log_, policy, [this] { return wanted_; }, [this] { return email_; },
        [] {});
  }

  fs::path dir_ = fresh_dir();
  FakeClient client_{dir_};
  tls::CertificateStore store_{dir_};
  std::ostringstream log_text_;
  logging::JsonLog log_{log_text_};
  std::set<std::string> wanted_{"a.example.com", "b.example.com"};
  std::optional<std::string> email_ = "ops@example.org";
};

TEST_F(ManagerTest, IssuesWhatIsMissingThenLeavesFreshCertificatesAlone) {
  auto m = manager({});
  EXPECT_TRUE(m->renew_due());
  EXPECT_EQ(client_.calls, (std::vector<std::string>{"a.example.com ops@example.org",
                                                     "b.example.com ops@example.org"}));
  EXPECT_FALSE(m->renew_due()) << log_text_.str();  // 100 years left of 100: not due
  EXPECT_EQ(client_.calls.size(), 2u);
  std::string metrics;
  m->render_metrics(metrics);
  EXPECT_NE(metrics.find("captain_acme_orders_total{outcome=\"success\"} 2"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("captain_tls_certificate_expiry_timestamp_seconds{domain=\"a.example."
                         "com\"} 4"),
            std::string::npos)
      << metrics;
}

TEST_F(ManagerTest, RenewsWhatIsDue) {
  RenewalPolicy policy;
  policy.renew_before = hours(24 * 365 * 200);  // every certificate is due
  auto m = manager(policy);
  EXPECT_TRUE(m->renew_due());
  EXPECT_TRUE(m->renew_due());
  EXPECT_EQ(client_.calls.size(), 4u);
}

TEST_F(ManagerTest, AFailureBacksOffInsteadOfHammeringTheCa) {
  client_.fail = true;
  auto m = manager({});
  EXPECT_FALSE(m->renew_due());
  EXPECT_EQ(client_.calls.size(), 2u);
  EXPECT_FALSE(m->renew_due());  // both are waiting out their backoff
  EXPECT_EQ(client_.calls.size(), 2u);
  EXPECT_NE(log_text_.str().find("certificate renewal failed; the current certificate keeps "
                                 "serving"),
            std::string::npos);
  std::string metrics;
  m->render_metrics(metrics);
  EXPECT_NE(metrics.find("captain_acme_orders_total{outcome=\"unreachable\"} 2"),
            std::string::npos);
}

TEST_F(ManagerTest, NothingIsOrderedWithoutAnAccountEmail) {
  email_.reset();
  auto m = manager({});
  EXPECT_FALSE(m->renew_due());
  EXPECT_TRUE(client_.calls.empty());
  EXPECT_NE(log_text_.str().find("no ACME e-mail"), std::string::npos);
}

}  // namespace
}  // namespace captain::acme
