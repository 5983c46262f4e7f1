// Request ids: which incoming X-Request-ID values are honored, and how new ids are written.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace captain {

inline constexpr std::size_t kMaxRequestIdLength = 128;
inline constexpr std::size_t kUuidLength = 36;   // 8-4-4-4-12
inline constexpr std::size_t kHexIdLength = 32;  // 16 bytes as hex
inline constexpr std::size_t kMaxGeneratedIdLength = kUuidLength;

enum class RequestIdFormat { uuid, hex };

// An incoming id is honored only if it is 1-128 characters of [A-Za-z0-9._:-]: anything else
// (CR/LF, spaces, quotes, non-ASCII, oversized) could forge log lines or break headers and is
// replaced, never echoed.
bool is_valid_request_id(std::string_view id) noexcept;

// Writes a new id made from 16 random bytes: a UUIDv4 (version and variant bits set per
// RFC 9562) or 32 lowercase hex digits. Returns the number of characters written.
std::size_t format_request_id(RequestIdFormat format, const std::array<std::uint8_t, 16>& random,
                              char* out) noexcept;

}  // namespace captain
