#include "controller/tls/certificate.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace captain::tls {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using KeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

BioPtr memory_bio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string read_bio(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

// ASN1_TIME -> system_clock (UTC).
bool to_time_point(const ASN1_TIME* t, SystemTime& out) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return false;
  out = std::chrono::system_clock::from_time_t(timegm(&tm));
  return true;
}

std::string utc(SystemTime t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Expected<CertificateInfo, std::string> inspect_certificate(const CertificatePem& pem,
                                                           std::string_view domain,
                                                           SystemTime now) {
  ERR_clear_error();
  auto cert_bio = memory_bio(pem.chain);
  X509Ptr leaf(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!leaf) return Unexpected(std::string("the certificate file holds no PEM certificate"));
  auto key_bio = memory_bio(pem.key);
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return Unexpected(std::string("the key file holds no PEM private key"));
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return Unexpected(std::string("the private key does not belong to the certificate"));
  }
  const std::string name(domain);
  if (X509_check_host(leaf.get(), name.data(), name.size(), 0, nullptr) != 1) {
    return Unexpected("the certificate does not name " + name);
  }
  CertificateInfo info;
  if (!to_time_point(X509_get0_notBefore(leaf.get()), info.not_before) ||
      !to_time_point(X509_get0_notAfter(leaf.get()), info.not_after)) {
    return Unexpected(std::string("the certificate's validity dates cannot be read"));
  }
  if (now < info.not_before) {
    return Unexpected("the certificate is not valid before " + utc(info.not_before));
  }
  if (now >= info.not_after) return Unexpected("the certificate expired on " + utc(info.not_after));
  return info;
}

std::optional<CertificateInfo> certificate_validity(const std::string& chain_pem) {
  auto bio = memory_bio(chain_pem);
  X509Ptr leaf(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  CertificateInfo info;
  if (!leaf || !to_time_point(X509_get0_notBefore(leaf.get()), info.not_before) ||
      !to_time_point(X509_get0_notAfter(leaf.get()), info.not_after)) {
    return std::nullopt;
  }
  return info;
}

Expected<CertificatePem, std::string> make_self_signed(std::string_view common_name, int days) {
  KeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw_key) != 1) {
    return Unexpected(std::string("cannot generate an ECDSA P-256 key"));
  }
  KeyPtr key(raw_key);
  X509Ptr cert(X509_new());
  const std::string cn(common_name);
  // A random serial, so a browser never sees two different certificates with one serial.
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> bn(BN_new());
  if (!cert || !bn || BN_rand(bn.get(), 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Unexpected(std::string("cannot make a certificate serial"));
  }
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key.get());
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Unexpected(std::string("cannot sign the self-signed certificate"));
  }
  BioPtr cert_out(BIO_new(BIO_s_mem()));
  BioPtr key_out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_out.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return Unexpected(std::string("cannot write the self-signed certificate as PEM"));
  }
  return CertificatePem{read_bio(cert_out.get()), read_bio(key_out.get())};
}

}  // namespace captain::tls
