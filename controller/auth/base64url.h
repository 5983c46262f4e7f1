// Base64url (RFC 4648 §5) without padding, as JWTs and our secrets use it. Decoding is strict:
// only the url-safe alphabet, no '=' padding, no whitespace, and the unused low bits of the last
// character must be zero, so every byte string has exactly one accepted encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace captain::auth {

std::string base64url_encode(std::string_view bytes);

// nullopt on any character outside [A-Za-z0-9_-], on an impossible length (4n+1) or on
// non-zero trailing bits.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace captain::auth
