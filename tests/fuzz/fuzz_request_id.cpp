// libFuzzer target for is_valid_request_id and format_request_id.
//
// Invariants checked on every input:
//   * is_valid_request_id agrees with an independent, straightforward re-implementation;
//   * ids generated from the input's first 16 bytes (both formats) have the documented shape
//     and are themselves honored by is_valid_request_id.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "shared/request_id/request_id.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::string_view kAllowed =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";

bool reference_valid(std::string_view id) {
  if (id.size() < 1 || id.size() > 128) return false;
  for (char c : id) {
    if (kAllowed.find(c) == std::string_view::npos) return false;
  }
  return true;
}

bool lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check(captain::is_valid_request_id(input) == reference_valid(input));

  if (size < 16) return 0;
  std::array<std::uint8_t, 16> random{};
  std::memcpy(random.data(), data, random.size());

  std::array<char, captain::kMaxGeneratedIdLength> buffer{};
  const std::size_t uuid_length =
      captain::format_request_id(captain::RequestIdFormat::uuid, random, buffer.data());
  check(uuid_length == captain::kUuidLength);
  const std::string_view uuid(buffer.data(), uuid_length);
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      check(uuid[i] == '-');
    } else {
      check(lower_hex(uuid[i]));
    }
  }
  check(uuid[14] == '4');
  check(uuid[19] == '8' || uuid[19] == '9' || uuid[19] == 'a' || uuid[19] == 'b');
  check(captain::is_valid_request_id(uuid));

  const std::size_t hex_length =
      captain::format_request_id(captain::RequestIdFormat::hex, random, buffer.data());
  check(hex_length == captain::kHexIdLength);
  const std::string_view hex(buffer.data(), hex_length);
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const std::uint8_t byte = random[i / 2];
    const int nibble = i % 2 == 0 ? byte >> 4 : byte & 0x0f;
    check(hex[i] == "0123456789abcdef"[nibble]);
  }
  check(captain::is_valid_request_id(hex));
  return 0;
}
