// HS256 JSON Web Tokens (RFC 7519) for controller sessions. Only HS256 is ever produced or
// accepted: a token naming any other algorithm, "none" included, is refused before any key is
// touched. Verification takes several secrets so a rotated-out secret keeps its tokens valid
// until it is dropped (see SecretRing).
#pragma once

#include <chrono>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

#include "controller/common/expected.h"

namespace captain::auth {

enum class JwtError {
  malformed,        // not three base64url parts, bad JSON, missing/ill-typed exp, too long
  bad_signature,    // no acceptable secret produced this signature
  expired,          // exp <= now
  not_yet_valid,    // nbf or iat more than kJwtClockSkew in the future
  wrong_algorithm,  // header alg is not "HS256"
};

// Stable lower-case name of the error ("malformed", "bad_signature", ...), for logs.
std::string_view to_string(JwtError error) noexcept;

// Tolerance for nbf/iat slightly ahead of our clock.
inline constexpr std::chrono::seconds kJwtClockSkew{60};

// Tokens longer than this are refused unread.
inline constexpr std::size_t kMaxJwtLength = 8192;

// Signs `claims` (a JSON object) with `secret`. Sets "iat" to `now` (whole seconds) when the
// claims have none. Errors: claims not an object, empty secret, claims not serialisable
// (invalid UTF-8 in a string), or an OpenSSL failure.
Expected<std::string, std::string> jwt_sign(const nlohmann::json& claims, std::string_view secret,
                                            std::chrono::system_clock::time_point now);

// Verifies `token` against each non-empty secret in order (current first, then previous) and
// returns its claims. The claims must carry a numeric "exp" (a session token without an
// expiry would live forever); "nbf" and "iat", when present, must be numbers too. Checks run
// in this order: shape and header (malformed / wrong_algorithm), signature (bad_signature),
// then the payload (malformed / expired / not_yet_valid), so nothing from an unauthenticated
// payload is interpreted. Never throws.
Expected<nlohmann::json, JwtError> jwt_verify(std::string_view token,
                                              std::span<const std::string> secrets,
                                              std::chrono::system_clock::time_point now);

}  // namespace captain::auth
