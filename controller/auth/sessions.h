// Login and token checks for the API, on top of the primitives (password hash, JWT, secret
// ring, back-off): what POST /api/v2/login and the x-captain-auth check call. The password hash
// and the secret ring live in the store's settings rows; the first run hashes the configured
// password into it.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "controller/auth/login_backoff.h"
#include "controller/auth/token_issuer.h"
#include "controller/common/expected.h"
#include "controller/store/sqlite.h"

namespace captain::auth {

inline constexpr std::string_view kPasswordHashKey = "auth.password_hash";
inline constexpr std::string_view kSecretRingKey = "auth.secret_ring";

struct LoginOutcome {
  enum class Kind { ok, wrong_password, back_off, invalid };
  Kind kind = Kind::invalid;
  std::string token;             // ok
  std::chrono::seconds wait{0};  // back_off
  // invalid: why. wrong_password: set when the failure could not be stored (it counts until a
  // restart), for the caller to log.
  std::string message;
};

struct PasswordChangeOutcome {
  enum class Kind { ok, too_short, wrong_password, back_off, failed };
  Kind kind = Kind::failed;
  std::chrono::seconds wait{0};  // back_off
  std::string message;           // failed; wrong_password: as LoginOutcome::message
};

// CapRover's minimum for a new password.
inline constexpr std::size_t kMinPasswordLength = 8;

class Sessions {
 public:
  struct Options {
    std::chrono::seconds token_ttl{std::chrono::hours(24 * 7)};
    std::chrono::seconds secret_rotation{std::chrono::hours(24 * 30)};
  };

  // Loads (or on the first run creates) the password hash and the secret ring, then loads the
  // login back-off's failures (they survive restarts: auth/login_backoff.h). Without a stored
  // hash, `first_run_password` is required: it is hashed and stored, never kept plain. With a
  // stored hash it is ignored (changing the password is an API call, not a restart).
  static Expected<std::unique_ptr<Sessions>, std::string> open(
      store::Database& db, const std::optional<std::string>& first_run_password, Options options,
      std::chrono::system_clock::time_point now);

  // Back-off first (a blocked client gets 1113 even with the right password), then the hash.
  // A wrong password is recorded in the store before this returns. `now` (wall time) also
  // times the back-off, which must survive restarts.
  LoginOutcome login(std::string_view password, std::string_view client_ip,
                     std::chrono::system_clock::time_point now);

  // Replaces the password when `old_password` is right (same back-off as login: a stolen token
  // is not a free password oracle). Every token issued so far stops working, as in CapRover:
  // the signing secrets are replaced along with the hash, in one transaction.
  PasswordChangeOutcome change_password(std::string_view old_password,
                                        std::string_view new_password, std::string_view client_ip,
                                        std::chrono::system_clock::time_point now);

  // The token's claims, or why it is refused.
  Expected<nlohmann::json, JwtError> check(std::string_view token,
                                           std::chrono::system_clock::time_point now) const;

  // True when the stored password was set by this run (first start).
  bool created_password() const noexcept { return created_password_; }

 private:
  Sessions(store::Database& db, std::string password_hash, SecretRing ring, Options options,
           std::unique_ptr<LoginBackoff> backoff);
  // Rotates the ring when it is due, persisting it first so a restart keeps the same secrets.
  void rotate_if_due(std::chrono::system_clock::time_point now);

  std::string password_hash() const;

  store::Database& db_;
  std::string password_hash_;  // guarded by mutex_ (replaced by change_password)
  Options options_;
  std::unique_ptr<LoginBackoff> backoff_;  // backed by db_
  mutable std::mutex mutex_;  // guards issuer_ (swapped on rotation) and password_hash_
  std::shared_ptr<const TokenIssuer> issuer_;  // readers keep their copy while it is swapped
  bool created_password_ = false;
};

}  // namespace captain::auth
