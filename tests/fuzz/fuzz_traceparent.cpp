// libFuzzer target for parse_traceparent / format_traceparent.
//
// Invariants checked on every input:
//   * the parser agrees with an independent, straightforward reading of the W3C rules;
//   * an accepted value re-formatted as version 00 with its flags parses again to the same
//     ids, with the sampled and random-trace-id flags preserved and every reserved bit zero
//     (Trace Context Level 2 "trace-flags");
//   * an accepted version-00 value whose flags have no reserved bit (00 to 03) re-formats to
//     exactly its input.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "shared/encoding/hex.h"
#include "shared/trace_context/traceparent.h"

namespace {

using captain::trace::kTraceparentLength;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool lower_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool lower_hex_field(std::string_view s, std::size_t at, std::size_t n) {
  for (std::size_t i = at; i < at + n; ++i) {
    if (!lower_hex(s[i])) return false;
  }
  return true;
}

bool all_zero_chars(std::string_view s, std::size_t at, std::size_t n) {
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] != '0') return false;
  }
  return true;
}

std::string_view reference_trim(std::string_view s) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  while (begin < end && (s[begin] == ' ' || s[begin] == '\t')) ++begin;
  while (end > begin && (s[end - 1] == ' ' || s[end - 1] == '\t')) --end;
  return s.substr(begin, end - begin);
}

// version "-" trace-id "-" parent-id "-" flags, version != ff; version 00 is exactly 55
// characters, a higher version is longer only if character 56 is '-'.
bool reference_accepts(std::string_view raw) {
  const std::string_view s = reference_trim(raw);
  if (s.size() < 55) return false;
  if (!lower_hex_field(s, 0, 2) || s[2] != '-' || !lower_hex_field(s, 3, 32) || s[35] != '-' ||
      !lower_hex_field(s, 36, 16) || s[52] != '-' || !lower_hex_field(s, 53, 2)) {
    return false;
  }
  if (s.substr(0, 2) == "ff") return false;
  if (s.substr(0, 2) == "00" && s.size() != 55) return false;
  if (s.size() > 55 && s[55] != '-') return false;
  if (all_zero_chars(s, 3, 32) || all_zero_chars(s, 36, 16)) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto parsed = captain::trace::parse_traceparent(input);

  check(parsed.has_value() == reference_accepts(input));
  if (!parsed) return 0;

  const std::string_view trimmed = reference_trim(input);
  check(parsed->version != 0xff);
  check(!captain::trace::is_all_zero(parsed->trace_id));
  check(!captain::trace::is_all_zero(parsed->parent_id));

  std::array<char, kTraceparentLength> formatted{};
  captain::trace::format_traceparent(parsed->trace_id, parsed->parent_id, parsed->flags,
                                     formatted.data());
  const std::string_view text(formatted.data(), formatted.size());
  const auto known = static_cast<std::uint8_t>(parsed->flags & captain::trace::kKnownFlags);

  // The ids are written back exactly as they were read; the flags keep only the known bits.
  check(text.substr(0, 3) == "00-");
  check(text.substr(3, 50) == trimmed.substr(3, 50));
  check(text[53] == '0');
  check(text[54] == "0123"[known]);

  const auto again = captain::trace::parse_traceparent(text);
  check(again.has_value());
  check(again->version == 0x00);
  check(again->trace_id == parsed->trace_id);
  check(again->parent_id == parsed->parent_id);
  check(again->sampled() == parsed->sampled());
  check(again->random() == parsed->random());
  check(again->flags == known);

  if (parsed->version == 0x00 && parsed->flags == known) {
    check(text == trimmed);
  }
  return 0;
}
