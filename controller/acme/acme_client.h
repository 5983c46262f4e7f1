// Obtaining a certificate from an ACME CA (RFC 8555). The protocol is lego's job (Debian's
// `lego`, one static binary, HTTP-01 through the webroot nginx serves): this wraps the command
// line and turns its outcome into a typed result with the CA's own words.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "controller/common/expected.h"

namespace captain::acme {

struct AcmeError {
  enum class Kind {
    refused,      // the CA answered and said no: failed challenge, rate limit, bad contact, ...
    unreachable,  // the CA could not be reached (or its TLS certificate is not trusted)
    failed,       // the client could not run, or did not finish in time
  };
  Kind kind = Kind::failed;
  std::string message;  // the CA's (or the client's) message, one or a few lines
};

// A client that can get a certificate for one name.
class AcmeClient {
 public:
  virtual ~AcmeClient() = default;
  // Gets (or renews) the certificate for `domain` under the account `email`; on success the
  // certificate store (tls/certificate_store.h) has it.
  virtual Expected<void, AcmeError> obtain(const std::string& domain, const std::string& email) = 0;
};

struct LegoOptions {
  std::string binary = "/usr/bin/lego";
  std::string directory;              // the CA's directory URL
  std::string ca_bundle;              // trusted CAs for the directory's HTTPS; "" system
  std::filesystem::path state_dir;    // lego --path: accounts/ and certificates/
  std::filesystem::path webroot;      // HTTP-01 files go to <webroot>/.well-known/...
  std::chrono::seconds timeout{180};  // one issuance, all steps
};

class LegoClient : public AcmeClient {
 public:
  explicit LegoClient(LegoOptions options);
  Expected<void, AcmeError> obtain(const std::string& domain, const std::string& email) override;

 private:
  std::filesystem::path account_file(const std::string& email) const;

  LegoOptions options_;
};

// lego's output, turned into the error a user needs (exposed for unit tests).
AcmeError classify_lego_failure(const std::string& output, int exit_status, bool timed_out,
                                const std::string& directory);

}  // namespace captain::acme
