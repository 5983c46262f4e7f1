#include "controller/auth/token_issuer.h"

#include <utility>

namespace captain::auth {

TokenIssuer::TokenIssuer(SecretRing ring)
    : ring_(std::move(ring)), secrets_(ring_.verification_secrets()) {}

Expected<std::string, std::string> TokenIssuer::issue(std::chrono::system_clock::time_point now,
                                                      std::string_view subject,
                                                      std::chrono::seconds ttl) const {
  try {
    if (ttl <= std::chrono::seconds::zero()) {
      return Unexpected(std::string("token lifetime must be positive"));
    }
    if (subject.empty()) return Unexpected(std::string("token subject must not be empty"));
    const auto issued =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    // Rounded up: a token lives at least `ttl` (whole-second claims would otherwise cut a token
    // issued late in a second short, to a few milliseconds for a 1 s lifetime).
    const auto expires =
        std::chrono::ceil<std::chrono::seconds>((now + ttl).time_since_epoch()).count();
    nlohmann::json claims = {{"sub", std::string(subject)}, {"iat", issued}, {"exp", expires}};
    return jwt_sign(claims, ring_.current, now);
  } catch (const std::exception& e) {
    return Unexpected(std::string("cannot issue token: ") + e.what());
  }
}

Expected<nlohmann::json, JwtError> TokenIssuer::check(
    std::string_view token, std::chrono::system_clock::time_point now) const {
  auto claims = jwt_verify(token, secrets_, now);
  if (!claims) return claims;
  try {
    const auto sub = claims->find("sub");
    if (sub == claims->end() || !sub->is_string()) return Unexpected(JwtError::malformed);
  } catch (...) {
    return Unexpected(JwtError::malformed);
  }
  return claims;
}

}  // namespace captain::auth
