// Session tokens for the API: HS256 JWTs signed with a SecretRing's current secret and
// accepted under its current or previous one.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "controller/auth/jwt.h"
#include "controller/auth/secrets.h"
#include "controller/common/expected.h"

namespace captain::auth {

inline constexpr std::string_view kDefaultSubject = "captain";
inline constexpr std::chrono::seconds kDefaultTokenTtl = std::chrono::hours(24);

// Immutable once built, so const calls are safe from any thread; after a rotation build a new
// issuer from the new ring and swap it in.
class TokenIssuer {
 public:
  explicit TokenIssuer(SecretRing ring);

  // Claims {"sub": subject, "iat": now, "exp": now + ttl}. Errors: ttl not positive, empty
  // subject, or signing failing.
  Expected<std::string, std::string> issue(std::chrono::system_clock::time_point now,
                                           std::string_view subject = kDefaultSubject,
                                           std::chrono::seconds ttl = kDefaultTokenTtl) const;

  // The token's claims when it verifies under the ring and carries a string "sub" (malformed
  // otherwise).
  Expected<nlohmann::json, JwtError> check(std::string_view token,
                                           std::chrono::system_clock::time_point now) const;

  const SecretRing& ring() const noexcept { return ring_; }

 private:
  SecretRing ring_;
  std::vector<std::string> secrets_;  // ring_.verification_secrets(), computed once
};

}  // namespace captain::auth
