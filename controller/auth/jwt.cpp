#include "controller/auth/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <optional>

#include "controller/auth/base64url.h"

namespace captain::auth {
namespace {

using nlohmann::json;

constexpr std::size_t kSignatureSize = 32;  // SHA-256
using Mac = std::array<unsigned char, kSignatureSize>;

std::optional<Mac> hmac_sha256(std::string_view key, std::string_view data) noexcept {
  if (key.size() > static_cast<std::size_t>(INT_MAX)) return std::nullopt;
  Mac mac{};
  unsigned int length = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  if (result == nullptr || length != kSignatureSize) return std::nullopt;
  return mac;
}

// The one header we emit, serialised once; key order matches the brief's {"alg","typ"}.
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

std::int64_t unix_seconds(std::chrono::system_clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
}

// A NumericDate claim as seconds (fractions allowed by RFC 7519); nullopt when present but not
// a finite number.
std::optional<double> numeric_date(const json& value) {
  if (!value.is_number()) return std::nullopt;
  const double seconds = value.get<double>();
  if (!std::isfinite(seconds)) return std::nullopt;
  return seconds;
}

std::optional<json> parse_object(std::string_view text) {
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

}  // namespace

std::string_view to_string(JwtError error) noexcept {
  switch (error) {
    case JwtError::malformed:
      return "malformed";
    case JwtError::bad_signature:
      return "bad_signature";
    case JwtError::expired:
      return "expired";
    case JwtError::not_yet_valid:
      return "not_yet_valid";
    case JwtError::wrong_algorithm:
      return "wrong_algorithm";
  }
  return "unknown";
}

Expected<std::string, std::string> jwt_sign(const json& claims, std::string_view secret,
                                            std::chrono::system_clock::time_point now) {
  try {
    if (!claims.is_object()) return Unexpected(std::string("JWT claims must be a JSON object"));
    if (secret.empty()) return Unexpected(std::string("JWT secret must not be empty"));
    json body = claims;
    if (!body.contains("iat")) body["iat"] = unix_seconds(now);
    std::string signing_input = base64url_encode(kHeaderJson);
    signing_input.push_back('.');
    signing_input += base64url_encode(body.dump());  // throws on invalid UTF-8: caught below
    const auto mac = hmac_sha256(secret, signing_input);
    if (!mac) return Unexpected(std::string("HMAC-SHA256 failed"));
    signing_input.push_back('.');
    signing_input +=
        base64url_encode(std::string_view(reinterpret_cast<const char*>(mac->data()), mac->size()));
    return signing_input;
  } catch (const std::exception& e) {
    return Unexpected(std::string("cannot sign JWT: ") + e.what());
  }
}

Expected<json, JwtError> jwt_verify(std::string_view token, std::span<const std::string> secrets,
                                    std::chrono::system_clock::time_point now) {
  try {
    if (token.empty() || token.size() > kMaxJwtLength) return Unexpected(JwtError::malformed);
    const auto first_dot = token.find('.');
    if (first_dot == std::string_view::npos) return Unexpected(JwtError::malformed);
    const auto second_dot = token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos) return Unexpected(JwtError::malformed);
    if (token.find('.', second_dot + 1) != std::string_view::npos) {
      return Unexpected(JwtError::malformed);
    }
    const std::string_view header_part = token.substr(0, first_dot);
    const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
    const std::string_view signature_part = token.substr(second_dot + 1);
    if (header_part.empty() || payload_part.empty() || signature_part.empty()) {
      return Unexpected(JwtError::malformed);
    }

    // Header: decoded and checked before any key is used.
    const auto header_text = base64url_decode(header_part);
    if (!header_text) return Unexpected(JwtError::malformed);
    const auto header = parse_object(*header_text);
    if (!header) return Unexpected(JwtError::malformed);
    const auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string()) return Unexpected(JwtError::malformed);
    if (alg->get_ref<const std::string&>() != "HS256") {
      return Unexpected(JwtError::wrong_algorithm);
    }
    if (const auto typ = header->find("typ"); typ != header->end()) {
      if (!typ->is_string() || typ->get_ref<const std::string&>() != "JWT") {
        return Unexpected(JwtError::malformed);
      }
    }
    // We implement no header extensions, so a critical one cannot be honoured (RFC 7515 §4.1.11).
    if (header->contains("crit")) return Unexpected(JwtError::malformed);

    // Signature.
    const auto signature = base64url_decode(signature_part);
    if (!signature) return Unexpected(JwtError::malformed);
    if (signature->size() != kSignatureSize) return Unexpected(JwtError::bad_signature);
    const std::string_view signing_input = token.substr(0, second_dot);
    bool signature_ok = false;
    for (const std::string& secret : secrets) {
      if (secret.empty()) continue;
      const auto mac = hmac_sha256(secret, signing_input);
      if (!mac) continue;
      // Every candidate is compared (no early exit) to keep timing independent of which
      // secret matched.
      if (CRYPTO_memcmp(mac->data(), signature->data(), kSignatureSize) == 0) signature_ok = true;
    }
    if (!signature_ok) return Unexpected(JwtError::bad_signature);

    // Payload, now authenticated.
    const auto payload_text = base64url_decode(payload_part);
    if (!payload_text) return Unexpected(JwtError::malformed);
    auto claims = parse_object(*payload_text);
    if (!claims) return Unexpected(JwtError::malformed);

    const double now_seconds = static_cast<double>(unix_seconds(now));
    const auto exp_it = claims->find("exp");
    if (exp_it == claims->end()) return Unexpected(JwtError::malformed);
    const auto exp = numeric_date(*exp_it);
    if (!exp) return Unexpected(JwtError::malformed);
    for (const char* name : {"nbf", "iat"}) {
      const auto it = claims->find(name);
      if (it == claims->end()) continue;
      const auto when = numeric_date(*it);
      if (!when) return Unexpected(JwtError::malformed);
      if (*when > now_seconds + static_cast<double>(kJwtClockSkew.count())) {
        return Unexpected(JwtError::not_yet_valid);
      }
    }
    if (*exp <= now_seconds) return Unexpected(JwtError::expired);
    return std::move(*claims);
  } catch (...) {
    return Unexpected(JwtError::malformed);
  }
}

}  // namespace captain::auth
