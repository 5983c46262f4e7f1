// Password hashing with libxcrypt's yescrypt. The stored form is the self-describing crypt
// string "$y$<params>$<salt>$<hash>", so cost or algorithm changes need no schema change.
// Plain passwords are never stored or logged. Thread-safe: each call owns its crypt state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "controller/common/expected.h"

namespace captain::auth {

// Longer passwords are refused (yescrypt would accept them, but nothing legitimate needs
// more and it bounds the work an unauthenticated caller can ask for).
inline constexpr std::size_t kMaxPasswordLength = 1024;

// A fresh random salt per call, default yescrypt cost. The error is a one-line message:
// empty password, NUL inside it, longer than kMaxPasswordLength, or a libxcrypt failure.
Expected<std::string, std::string> hash_password(std::string_view password);

// True only when `stored_hash` is a yescrypt ("$y$") string produced for `password`.
// Anything malformed, any other algorithm and any password hash_password would refuse give
// false. The comparison runs in constant time.
bool verify_password(std::string_view password, std::string_view stored_hash);

}  // namespace captain::auth
