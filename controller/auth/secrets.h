// JWT signing secrets: generation and a two-slot rotation ring kept in one settings row.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "controller/common/expected.h"

namespace captain::auth {

inline constexpr std::size_t kDefaultSecretBytes = 32;
inline constexpr std::size_t kMaxSecretBytes = 1024;

// `bytes` bytes from OpenSSL's CSPRNG, base64url-encoded without padding (32 bytes → 43
// characters). Errors: bytes 0 or above kMaxSecretBytes, or RAND_bytes failing.
Expected<std::string, std::string> random_secret(std::size_t bytes = kDefaultSecretBytes);

// Whether `given` is `expected`, in time that does not depend on where they differ. An empty
// `expected` (no secret set) matches nothing.
bool same_secret(std::string_view expected, std::string_view given);

// The current signing secret plus the one it replaced. Rotation policy: rotate when the current
// secret is older than the configured age (needs_rotation); the replaced secret stays
// acceptable for verification until the following rotation drops it, so a token outlives one
// rotation but never two. Keep the token lifetime below the rotation age.
struct SecretRing {
  std::string current;
  std::string previous;  // empty: none yet
  std::chrono::system_clock::time_point rotated_at{};

  // A ring with a fresh current secret, no previous one, rotated_at = now.
  static Expected<SecretRing, std::string> create(std::chrono::system_clock::time_point now);

  // current → previous (dropping the old previous), a fresh current, rotated_at = now. On
  // error the ring is unchanged.
  Expected<void, std::string> rotate(std::chrono::system_clock::time_point now);

  // True once `max_age` has passed since rotated_at. A clock that went backwards gives false.
  bool needs_rotation(std::chrono::system_clock::time_point now,
                      std::chrono::seconds max_age) const noexcept;

  // Secrets to try when verifying, current first; empty slots omitted.
  std::vector<std::string> verification_secrets() const;

  // rotated_at is kept to the whole second.
  // "v1.<rotated_at unix seconds>.<base64url(current)>.<base64url(previous)>": ASCII only, no
  // quoting needed, lossless for any secret bytes.
  std::string serialize() const;
  // Inverse of serialize; errors on any deviation (version, field count, base64url, empty
  // current, non-numeric time).
  static Expected<SecretRing, std::string> parse(std::string_view text);

  friend bool operator==(const SecretRing&, const SecretRing&) = default;
};

}  // namespace captain::auth
