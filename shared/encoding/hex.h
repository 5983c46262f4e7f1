// Lowercase hexadecimal encoding and strict decoding of byte strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace captain {

inline constexpr char kLowerHexDigits[] = "0123456789abcdef";

namespace detail {

// Both hex digits of every byte value: encoding is then one 2-byte copy per byte, which keeps
// ids cheap on nginx's per-request path (measured faster here than 64-bit "SWAR" arithmetic).
struct HexPairs {
  char pairs[256][2];
  constexpr HexPairs() : pairs() {
    for (int i = 0; i < 256; ++i) {
      pairs[i][0] = kLowerHexDigits[i >> 4];
      pairs[i][1] = kLowerHexDigits[i & 0x0f];
    }
  }
};

inline constexpr HexPairs kHexPairs{};

}  // namespace detail

// Writes 2 * size lowercase hex characters to out (no terminator).
inline void hex_encode(const std::uint8_t* bytes, std::size_t size, char* out) noexcept {
  for (std::size_t i = 0; i < size; ++i) {
    std::memcpy(out + 2 * i, detail::kHexPairs.pairs[bytes[i]], 2);
  }
}

// Value of one lowercase hex digit, or -1. Uppercase is rejected on purpose: W3C trace
// context (HEXDIGLC) only allows lowercase.
inline int lower_hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes exactly 2 * size lowercase hex characters from text into out.
inline bool hex_decode_lower(std::string_view text, std::uint8_t* out, std::size_t size) noexcept {
  if (text.size() != 2 * size) return false;
  for (std::size_t i = 0; i < size; ++i) {
    const int hi = lower_hex_value(text[2 * i]);
    const int lo = lower_hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace captain
