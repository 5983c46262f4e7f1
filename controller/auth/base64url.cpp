#include "controller/auth/base64url.h"

#include <array>
#include <cstdint>

namespace captain::auth {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr int kInvalid = -1;

constexpr std::array<int, 256> make_reverse_table() {
  std::array<int, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return table;
}

constexpr std::array<int, 256> kReverse = make_reverse_table();

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t chunk = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                                std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out.push_back(kAlphabet[(chunk >> 18) & 0x3f]);
    out.push_back(kAlphabet[(chunk >> 12) & 0x3f]);
    out.push_back(kAlphabet[(chunk >> 6) & 0x3f]);
    out.push_back(kAlphabet[chunk & 0x3f]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t chunk = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out.push_back(kAlphabet[(chunk >> 18) & 0x3f]);
    out.push_back(kAlphabet[(chunk >> 12) & 0x3f]);
  } else if (rest == 2) {
    const std::uint32_t chunk = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out.push_back(kAlphabet[(chunk >> 18) & 0x3f]);
    out.push_back(kAlphabet[(chunk >> 12) & 0x3f]);
    out.push_back(kAlphabet[(chunk >> 6) & 0x3f]);
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = kReverse[static_cast<unsigned char>(c)];
    if (value == kInvalid) return std::nullopt;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
    buffer &= (1u << bits) - 1;  // keep only the bits not yet emitted
  }
  // Leftover bits (2 or 4) are padding inside the last character; a canonical encoding has
  // them zero.
  if (buffer != 0) return std::nullopt;
  return out;
}

}  // namespace captain::auth
