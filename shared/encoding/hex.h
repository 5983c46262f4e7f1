// Lowercase hexadecimal encoding and strict decoding of byte strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace captain {

inline constexpr char kLowerHexDigits[] = "0123456789abcdef";

namespace detail {

// Four bytes to eight lowercase hex digits with 64-bit arithmetic ("SIMD within a register"):
// ids are encoded on nginx's per-request path, where a per-byte loop cost 6 instructions a byte.
inline std::uint64_t hex_digits_of_4_bytes(std::uint32_t v) noexcept {
  std::uint64_t w = v;
  // byte i of v -> low byte of 16-bit lane i
  w = (w | (w << 16)) & 0x0000ffff0000ffffULL;
  w = (w | (w << 8)) & 0x00ff00ff00ff00ffULL;
  // per lane: high nibble in the lane's first (low) byte, low nibble in its second
  w = ((w >> 4) & 0x000f000f000f000fULL) | ((w & 0x000f000f000f000fULL) << 8);
  // nibble n -> '0' + n, plus ('a' - '0' - 10) where n >= 10 (n + 6 carries into bit 4)
  const std::uint64_t letters = ((w + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
  return w + 0x3030303030303030ULL + letters * ('a' - '0' - 10);
}

}  // namespace detail

// Writes 2 * size lowercase hex characters to out (no terminator).
inline void hex_encode(const std::uint8_t* bytes, std::size_t size, char* out) noexcept {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "hex_digits_of_4_bytes assumes it");
  const std::size_t words = size / 4;
  for (std::size_t w = 0; w < words; ++w) {
    std::uint32_t v;
    std::memcpy(&v, bytes + 4 * w, 4);
    const std::uint64_t digits = detail::hex_digits_of_4_bytes(v);
    std::memcpy(out + 8 * w, &digits, 8);
  }
  for (std::size_t i = 4 * words; i < size; ++i) {
    out[2 * i] = kLowerHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kLowerHexDigits[bytes[i] & 0x0f];
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
