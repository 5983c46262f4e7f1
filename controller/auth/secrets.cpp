#include "controller/auth/secrets.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <charconv>
#include <climits>
#include <cstdint>
#include <utility>

#include "controller/auth/base64url.h"

namespace captain::auth {
namespace {

constexpr std::string_view kVersionTag = "v1";

std::int64_t unix_seconds(std::chrono::system_clock::time_point when) {
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

}  // namespace

bool same_secret(std::string_view expected, std::string_view given) {
  return !expected.empty() && expected.size() == given.size() &&
         CRYPTO_memcmp(expected.data(), given.data(), given.size()) == 0;
}

Expected<std::string, std::string> random_secret(std::size_t bytes) {
  try {
    if (bytes == 0 || bytes > kMaxSecretBytes) {
      return Unexpected(std::string("secret size must be 1..1024 bytes"));
    }
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
      return Unexpected(std::string("RAND_bytes failed"));
    }
    std::string encoded = base64url_encode(raw);
    OPENSSL_cleanse(raw.data(), raw.size());
    return encoded;
  } catch (const std::exception& e) {
    return Unexpected(std::string("cannot generate a secret: ") + e.what());
  }
}

Expected<SecretRing, std::string> SecretRing::create(std::chrono::system_clock::time_point now) {
  auto secret = random_secret();
  if (!secret) return Unexpected(secret.error());
  SecretRing ring;
  ring.current = std::move(*secret);
  ring.rotated_at = now;
  return ring;
}

Expected<void, std::string> SecretRing::rotate(std::chrono::system_clock::time_point now) {
  auto secret = random_secret();
  if (!secret) return Unexpected(secret.error());
  previous = std::exchange(current, std::move(*secret));
  rotated_at = now;
  return {};
}

bool SecretRing::needs_rotation(std::chrono::system_clock::time_point now,
                                std::chrono::seconds max_age) const noexcept {
  if (now < rotated_at) return false;
  return now - rotated_at >= max_age;
}

std::vector<std::string> SecretRing::verification_secrets() const {
  std::vector<std::string> secrets;
  if (!current.empty()) secrets.push_back(current);
  if (!previous.empty()) secrets.push_back(previous);
  return secrets;
}

std::string SecretRing::serialize() const {
  std::string out(kVersionTag);
  out.push_back('.');
  out += std::to_string(unix_seconds(rotated_at));
  out.push_back('.');
  out += base64url_encode(current);
  out.push_back('.');
  out += base64url_encode(previous);
  return out;
}

Expected<SecretRing, std::string> SecretRing::parse(std::string_view text) {
  try {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
      const auto dot = text.find('.', start);
      if (dot == std::string_view::npos) {
        fields.push_back(text.substr(start));
        break;
      }
      fields.push_back(text.substr(start, dot - start));
      start = dot + 1;
      if (fields.size() > 4) break;
    }
    if (fields.size() != 4) return Unexpected(std::string("secret ring: expected 4 fields"));
    if (fields[0] != kVersionTag) return Unexpected(std::string("secret ring: unknown version"));

    std::int64_t seconds = 0;
    const std::string_view time_field = fields[1];
    const auto [end, ec] =
        std::from_chars(time_field.data(), time_field.data() + time_field.size(), seconds);
    if (time_field.empty() || ec != std::errc() || end != time_field.data() + time_field.size()) {
      return Unexpected(std::string("secret ring: bad rotation time"));
    }
    // Keep the conversion to time_point (nanoseconds on libstdc++) from overflowing.
    constexpr std::int64_t kLimit = INT64_MAX / 1'000'000'000;
    if (seconds > kLimit || seconds < -kLimit) {
      return Unexpected(std::string("secret ring: rotation time out of range"));
    }

    auto current = base64url_decode(fields[2]);
    auto previous = base64url_decode(fields[3]);
    if (!current || !previous) return Unexpected(std::string("secret ring: bad secret encoding"));
    if (current->empty()) return Unexpected(std::string("secret ring: no current secret"));

    SecretRing ring;
    ring.current = std::move(*current);
    ring.previous = std::move(*previous);
    ring.rotated_at = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(seconds)));
    return ring;
  } catch (const std::exception& e) {
    return Unexpected(std::string("secret ring: ") + e.what());
  }
}

}  // namespace captain::auth
