// Certificates as files in PEM: what a certificate covers and until when, whether its key
// belongs to it, and a self-signed one for names nobody claims. OpenSSL does the parsing.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "controller/common/expected.h"

namespace captain::tls {

using SystemTime = std::chrono::system_clock::time_point;

// A certificate chain and its private key, both PEM, checked to belong together.
struct CertificatePem {
  std::string chain;  // leaf first, then intermediates
  std::string key;
  friend bool operator==(const CertificatePem&, const CertificatePem&) = default;
};

struct CertificateInfo {
  SystemTime not_before;
  SystemTime not_after;
};

// Whether `pem` can serve `domain` at `now`: the chain parses, the key parses and matches the
// leaf, the leaf names `domain` (subjectAltName, or CN when there is none) and is valid at
// `now`. The error is a sentence fit for a log line and the app's definition.
Expected<CertificateInfo, std::string> inspect_certificate(const CertificatePem& pem,
                                                           std::string_view domain, SystemTime now);

// The leaf's validity dates, whatever else is wrong with it (for expiry metrics and renewal).
std::optional<CertificateInfo> certificate_validity(const std::string& chain_pem);

// A new ECDSA P-256 key and a self-signed certificate for `common_name`, valid for `days`.
Expected<CertificatePem, std::string> make_self_signed(std::string_view common_name, int days);

}  // namespace captain::tls
