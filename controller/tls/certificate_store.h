// The certificates the ACME client keeps on disk, read back and checked. Layout (lego's):
//   <dir>/certificates/<domain>.crt     leaf + intermediates (PEM)
//   <dir>/certificates/<domain>.key     its private key (PEM)
// A file that is missing, unreadable, corrupt, for another name or expired yields a problem
// sentence instead of a certificate; the caller serves that name over HTTP only and says why.
// Files are re-read only when their size or modification time changes (the nginx manager
// asks every few seconds). Thread-safe.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "controller/tls/certificate.h"

namespace captain::tls {

struct LoadedCertificate {
  std::optional<CertificatePem> pem;    // set when usable now
  std::optional<CertificateInfo> info;  // the leaf's dates when they can be read
  std::string problem;                  // set when not
};

class CertificateStore {
 public:
  explicit CertificateStore(std::filesystem::path dir);

  std::filesystem::path chain_path(const std::string& domain) const;
  std::filesystem::path key_path(const std::string& domain) const;

  LoadedCertificate load(const std::string& domain, SystemTime now);

 private:
  struct FileStamp {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type mtime{};
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
  };
  struct Cached {
    FileStamp chain, key;
    CertificatePem pem;
  };

  std::filesystem::path dir_;
  std::mutex mutex_;
  std::map<std::string, Cached> cache_;
};

}  // namespace captain::tls
