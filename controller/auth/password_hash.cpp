#include "controller/auth/password_hash.h"

#include <crypt.h>
#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>

namespace captain::auth {
namespace {

constexpr std::string_view kYescryptPrefix = "$y$";

// struct crypt_data is ~32 KiB: too big for the stack of a worker thread, so it lives on the
// heap, zeroed before use (libxcrypt requires it) and wiped afterwards (it holds key material).
struct CryptDataDeleter {
  void operator()(crypt_data* data) const noexcept {
    OPENSSL_cleanse(data, sizeof(*data));
    delete data;
  }
};
using CryptDataPtr = std::unique_ptr<crypt_data, CryptDataDeleter>;

CryptDataPtr make_crypt_data() noexcept {
  return CryptDataPtr(new (std::nothrow) crypt_data());  // value-initialised: all zero
}

// Empty string when acceptable, else the reason.
std::string_view password_problem(std::string_view password) noexcept {
  if (password.empty()) return "password must not be empty";
  if (password.size() > kMaxPasswordLength) return "password is longer than 1024 bytes";
  if (password.find('\0') != std::string_view::npos) return "password must not contain NUL";
  return {};
}

}  // namespace

Expected<std::string, std::string> hash_password(std::string_view password) {
  try {
    if (auto problem = password_problem(password); !problem.empty()) {
      return Unexpected(std::string(problem));
    }
    char setting[CRYPT_GENSALT_OUTPUT_SIZE] = {};
    // nullptr random bytes: libxcrypt draws the salt from the OS (getentropy/getrandom).
    // count 0: yescrypt's default cost.
    if (crypt_gensalt_rn(kYescryptPrefix.data(), 0, nullptr, 0, setting, sizeof(setting)) ==
        nullptr) {
      return Unexpected(std::string("cannot generate a password salt: ") + std::strerror(errno));
    }
    CryptDataPtr data = make_crypt_data();
    if (!data) return Unexpected(std::string("out of memory hashing a password"));
    const std::string phrase(password);  // NUL-terminated copy
    const char* hashed = crypt_rn(phrase.c_str(), setting, data.get(), sizeof(*data));
    if (hashed == nullptr || hashed[0] == '*') {
      return Unexpected(std::string("password hashing failed: ") + std::strerror(errno));
    }
    std::string result(hashed);
    if (result.rfind(kYescryptPrefix, 0) != 0) {
      return Unexpected(std::string("password hashing produced an unexpected format"));
    }
    return result;
  } catch (const std::exception& e) {
    return Unexpected(std::string("password hashing failed: ") + e.what());
  }
}

bool verify_password(std::string_view password, std::string_view stored_hash) {
  try {
    if (!password_problem(password).empty()) return false;
    // Only yescrypt: a stored "$1$" or DES string would otherwise be honoured by crypt_rn,
    // silently downgrading the check.
    if (stored_hash.rfind(kYescryptPrefix, 0) != 0) return false;
    if (stored_hash.size() >= CRYPT_OUTPUT_SIZE) return false;
    if (stored_hash.find('\0') != std::string_view::npos) return false;
    const std::string setting(stored_hash);
    if (crypt_checksalt(setting.c_str()) != CRYPT_SALT_OK) return false;

    CryptDataPtr data = make_crypt_data();
    if (!data) return false;
    const std::string phrase(password);
    const char* recomputed = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(*data));
    if (recomputed == nullptr || recomputed[0] == '*') return false;
    const std::size_t length = std::strlen(recomputed);
    // The length is not secret (it is fixed by the stored parameters); the bytes are.
    if (length != stored_hash.size()) return false;
    return CRYPTO_memcmp(recomputed, stored_hash.data(), length) == 0;
  } catch (...) {
    return false;
  }
}

}  // namespace captain::auth
