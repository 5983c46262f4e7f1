// Certificates issued on request (the SSL API) and renewed on a timer:
//   * obtain(): one issuance now, for the API; one ACME run at a time (renewals included).
//   * the renewal thread: every `check_interval`, each wanted domain whose certificate is
//     missing, unusable or due (a third of its lifetime left, or `renew_before`) is renewed;
//     a failure is retried with exponential backoff (the old certificate keeps serving), and
//     one `renewed` call after the pass re-renders nginx once for the whole batch.
// Metrics: captain_tls_certificate_expiry_timestamp_seconds{domain},
// captain_acme_orders_total{outcome}.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "controller/acme/acme_client.h"
#include "controller/log/json_log.h"
#include "controller/tls/certificate_store.h"

namespace captain::acme {

struct RenewalPolicy {
  std::optional<std::chrono::seconds> renew_before;  // unset: a third of the lifetime
  std::chrono::seconds check_interval{std::chrono::hours(12)};
  std::chrono::seconds retry_min{60};
  std::chrono::seconds retry_max{std::chrono::hours(6)};
  std::chrono::seconds first_check{30};  // after start, so a restart heals soon
};

// Whether a certificate valid from not_before to not_after should be renewed at `now`.
bool renewal_due(const tls::CertificateInfo& info, tls::SystemTime now,
                 const RenewalPolicy& policy);

// The wait before retry number `failures` (1 = the first retry): retry_min doubling, capped.
std::chrono::seconds retry_delay(int failures, const RenewalPolicy& policy);

class CertificateManager {
 public:
  CertificateManager(AcmeClient& client, tls::CertificateStore& store, logging::JsonLog& log,
                     RenewalPolicy policy, std::function<std::set<std::string>()> wanted,
                     std::function<std::optional<std::string>()> account_email,
                     std::function<void()> renewed);
  ~CertificateManager();
  CertificateManager(const CertificateManager&) = delete;
  CertificateManager& operator=(const CertificateManager&) = delete;

  // Issues a certificate for `domain` now (waits for a renewal in progress).
  Expected<void, AcmeError> obtain(const std::string& domain, const std::string& email);

  void start();
  void stop();

  // One pass over the wanted domains now (the timer's work): renews what is due and not
  // backing off; true when any certificate changed. The caller re-renders nginx then.
  bool renew_due();

  void render_metrics(std::string& out);

 private:
  void loop();
  Expected<void, AcmeError> obtain_locked(const std::string& domain, const std::string& email);

  AcmeClient& client_;
  tls::CertificateStore& store_;
  logging::JsonLog& log_;
  const RenewalPolicy policy_;
  std::function<std::set<std::string>()> wanted_;
  std::function<std::optional<std::string>()> account_email_;
  std::function<void()> renewed_;

  std::mutex acme_mutex_;  // one ACME run at a time

  std::mutex mutex_;  // everything below
  std::condition_variable wake_;
  bool stopping_ = false;
  struct Backoff {
    int failures = 0;
    std::chrono::steady_clock::time_point next_try{};
  };
  std::map<std::string, Backoff> backoff_;
  std::map<std::string, std::uint64_t> orders_;  // by outcome
  bool warned_no_email_ = false;
  std::thread thread_;
};

}  // namespace captain::acme
