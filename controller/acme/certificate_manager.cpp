#include "controller/acme/certificate_manager.h"

#include <algorithm>

#include "shared/metrics/exposition.h"

namespace captain::acme {
namespace {

const char* outcome_label(const Expected<void, AcmeError>& result) {
  if (result) return "success";
  switch (result.error().kind) {
    case AcmeError::Kind::refused:
      return "refused";
    case AcmeError::Kind::unreachable:
      return "unreachable";
    case AcmeError::Kind::failed:
      return "failed";
  }
  return "failed";
}

}  // namespace

bool renewal_due(const tls::CertificateInfo& info, tls::SystemTime now,
                 const RenewalPolicy& policy) {
  // In seconds: three times a long lifetime in the clock's nanoseconds would overflow.
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto left = duration_cast<seconds>(info.not_after - now);
  if (policy.renew_before) return left <= *policy.renew_before;
  return left * 3 <= duration_cast<seconds>(info.not_after - info.not_before);
}

std::chrono::seconds retry_delay(int failures, const RenewalPolicy& policy) {
  auto delay = policy.retry_min;
  for (int i = 1; i < failures && delay < policy.retry_max; ++i) delay *= 2;
  return std::min(delay, policy.retry_max);
}

CertificateManager::CertificateManager(AcmeClient& client, tls::CertificateStore& store,
                                       logging::JsonLog& log, RenewalPolicy policy,
                                       std::function<std::set<std::string>()> wanted,
                                       std::function<std::optional<std::string>()> account_email,
                                       std::function<void()> renewed)
    : client_(client),
      store_(store),
      log_(log),
      policy_(policy),
      wanted_(std::move(wanted)),
      account_email_(std::move(account_email)),
      renewed_(std::move(renewed)) {
  for (const char* outcome : {"success", "refused", "unreachable", "failed"}) orders_[outcome] = 0;
}

CertificateManager::~CertificateManager() {
  stop();
}

void CertificateManager::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void CertificateManager::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Expected<void, AcmeError> CertificateManager::obtain(const std::string& domain,
                                                     const std::string& email) {
  std::lock_guard acme(acme_mutex_);
  return obtain_locked(domain, email);
}

Expected<void, AcmeError> CertificateManager::obtain_locked(const std::string& domain,
                                                            const std::string& email) {
  const auto started = std::chrono::steady_clock::now();
  auto result = client_.obtain(domain, email);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  std::lock_guard lock(mutex_);
  ++orders_[outcome_label(result)];
  if (result) {
    backoff_.erase(domain);
    log_.info("certificate obtained", {{"domain", domain}, {"ms", ms}});
  } else {
    log_.error("certificate not obtained", {{"domain", domain},
                                            {"outcome", outcome_label(result)},
                                            {"error", result.error().message},
                                            {"ms", ms}});
  }
  return result;
}

bool CertificateManager::renew_due() {
  const auto email = account_email_();
  const auto domains = wanted_();
  bool changed = false;
  for (const auto& domain : domains) {
    const auto now = std::chrono::system_clock::now();
    const auto loaded = store_.load(domain, now);
    const bool due = !loaded.pem || !loaded.info || renewal_due(*loaded.info, now, policy_);
    if (!due) continue;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return changed;
      auto it = backoff_.find(domain);
      if (it != backoff_.end() && std::chrono::steady_clock::now() < it->second.next_try) continue;
      if (!email) {
        if (!warned_no_email_) {
          log_.error("certificates are due but no ACME e-mail is set (acme_email or enablessl)",
                     {{"domain", domain}});
        }
        warned_no_email_ = true;
        return changed;
      }
    }
    log_.info("renewing certificate",
              {{"domain", domain}, {"reason", loaded.pem ? "due" : loaded.problem}});
    std::lock_guard acme(acme_mutex_);
    auto result = obtain_locked(domain, *email);
    if (result) {
      changed = true;
      continue;
    }
    std::lock_guard lock(mutex_);
    Backoff& b = backoff_[domain];
    ++b.failures;
    const auto delay = retry_delay(b.failures, policy_);
    b.next_try = std::chrono::steady_clock::now() + delay;
    log_.error(
        "certificate renewal failed; the current certificate keeps serving",
        {{"domain", domain}, {"retry_in_s", delay.count()}, {"error", result.error().message}});
  }
  return changed;
}

void CertificateManager::loop() {
  auto next_pass = std::chrono::steady_clock::now() + policy_.first_check;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto wake_at = next_pass;
    for (const auto& [domain, b] : backoff_) wake_at = std::min(wake_at, b.next_try);
    wake_.wait_until(lock, wake_at, [this] { return stopping_; });
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_pass) next_pass = now + policy_.check_interval;
    lock.unlock();
    const bool changed = renew_due();
    if (changed && renewed_) renewed_();  // one re-render for the whole batch
    lock.lock();
  }
}

void CertificateManager::render_metrics(std::string& out) {
  const auto domains = wanted_();
  std::map<std::string, double> expiry;
  for (const auto& domain : domains) {
    const auto loaded = store_.load(domain, std::chrono::system_clock::now());
    if (!loaded.info) continue;
    expiry[domain] = static_cast<double>(
        std::chrono::duration_cast<std::chrono::seconds>(loaded.info->not_after.time_since_epoch())
            .count());
  }
  metrics::TextWriter w(out);
  w.family("captain_tls_certificate_expiry_timestamp_seconds", metrics::MetricType::gauge,
           "When each wanted certificate expires (Unix time); absent when none is on disk.");
  for (const auto& [domain, at] : expiry) {
    w.sample("captain_tls_certificate_expiry_timestamp_seconds", {{"domain", domain}}, at);
  }
  std::lock_guard lock(mutex_);
  w.family("captain_acme_orders_total", metrics::MetricType::counter,
           "Certificate orders by outcome: success, refused (by the CA: failed challenge, rate "
           "limit), unreachable (the CA), failed (the client).");
  for (const auto& [outcome, n] : orders_) {
    w.sample("captain_acme_orders_total", {{"outcome", outcome}}, n);
  }
}

}  // namespace captain::acme
