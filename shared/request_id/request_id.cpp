#include "shared/request_id/request_id.h"

#include "shared/encoding/hex.h"

namespace captain {

namespace {

bool is_request_id_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

bool is_valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (!is_request_id_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::size_t format_request_id(RequestIdFormat format, const std::array<std::uint8_t, 16>& random,
                              char* out) noexcept {
  if (format == RequestIdFormat::hex) {
    hex_encode(random.data(), random.size(), out);
    return kHexIdLength;
  }

  std::array<std::uint8_t, 16> b = random;
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx

  // 8-4-4-4-12 groups of hex digits
  char* p = out;
  hex_encode(b.data(), 4, p);
  p += 8;
  *p++ = '-';
  hex_encode(b.data() + 4, 2, p);
  p += 4;
  *p++ = '-';
  hex_encode(b.data() + 6, 2, p);
  p += 4;
  *p++ = '-';
  hex_encode(b.data() + 8, 2, p);
  p += 4;
  *p++ = '-';
  hex_encode(b.data() + 10, 6, p);
  return kUuidLength;
}

}  // namespace captain
