#include "controller/tls/certificate_store.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace captain::tls {
namespace {

namespace fs = std::filesystem;

// Far above any PEM chain; a bigger file is not a certificate.
constexpr std::uintmax_t kMaxPemBytes = 1 << 20;

}  // namespace

CertificateStore::CertificateStore(fs::path dir) : dir_(std::move(dir)) {}

fs::path CertificateStore::chain_path(const std::string& domain) const {
  return dir_ / "certificates" / (domain + ".crt");
}

fs::path CertificateStore::key_path(const std::string& domain) const {
  return dir_ / "certificates" / (domain + ".key");
}

LoadedCertificate CertificateStore::load(const std::string& domain, SystemTime now) {
  LoadedCertificate out;
  const fs::path files[2] = {chain_path(domain), key_path(domain)};
  FileStamp stamps[2];
  for (int i = 0; i < 2; ++i) {
    std::error_code ec;
    const auto status = fs::status(files[i], ec);
    if (ec || !fs::exists(status)) {
      out.problem = "no certificate for " + domain + " (" + files[i].string() + " is missing)";
      return out;
    }
    stamps[i].size = fs::file_size(files[i], ec);
    stamps[i].mtime = fs::last_write_time(files[i], ec);
    if (ec || stamps[i].size > kMaxPemBytes) {
      out.problem = "cannot read " + files[i].string() + (ec ? ": " + ec.message() : ": too large");
      return out;
    }
  }
  CertificatePem pem;
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(domain);
    if (it != cache_.end() && it->second.chain == stamps[0] && it->second.key == stamps[1]) {
      pem = it->second.pem;
    }
  }
  if (pem.chain.empty()) {
    std::string* targets[2] = {&pem.chain, &pem.key};
    for (int i = 0; i < 2; ++i) {
      errno = 0;
      std::ifstream in(files[i], std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      if (!in && !in.eof()) {
        out.problem =
            "cannot read " + files[i].string() + ": " + std::strerror(errno != 0 ? errno : EIO);
        return out;
      }
      *targets[i] = text.str();
    }
    std::lock_guard lock(mutex_);
    cache_[domain] = Cached{stamps[0], stamps[1], pem};
  }
  out.info = certificate_validity(pem.chain);
  auto info = inspect_certificate(pem, domain, now);
  if (!info) {
    out.problem = "certificate for " + domain + " (" + files[0].string() + "): " + info.error();
    return out;
  }
  out.pem = std::move(pem);
  return out;
}

}  // namespace captain::tls
