// W3C Trace Context Level 2 `traceparent`: strict parsing and formatting
// (https://www.w3.org/TR/trace-context-2/#traceparent-header).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace captain::trace {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

// trace-flags bits (Level 2 "trace-flags"). Every other bit is reserved: vendors MUST send it
// as zero, so format_traceparent writes only these two.
inline constexpr std::uint8_t kFlagSampled = 0x01;
inline constexpr std::uint8_t kFlagRandom = 0x02;  // right-most 7 bytes of trace-id are random
inline constexpr std::uint8_t kKnownFlags = kFlagSampled | kFlagRandom;

// "00-" + 32 hex + "-" + 16 hex + "-" + 2 hex
inline constexpr std::size_t kTraceparentLength = 55;
// Where each field starts in a traceparent value (any version).
inline constexpr std::size_t kTraceIdOffset = 3;    // after "vv-"
inline constexpr std::size_t kParentIdOffset = 36;  // after "<32 hex>-"
inline constexpr std::size_t kFlagsOffset = 53;     // after "<16 hex>-"

struct TraceParent {
  std::uint8_t version = 0;
  TraceId trace_id{};
  SpanId parent_id{};
  std::uint8_t flags = 0;  // as received, reserved bits included

  bool sampled() const noexcept { return (flags & kFlagSampled) != 0; }
  bool random() const noexcept { return (flags & kFlagRandom) != 0; }
};

// Parses one traceparent field value. Surrounding optional whitespace (SP / HTAB) is ignored.
// Returns nullopt when the spec says to ignore the header and restart the trace:
//   * version not two lowercase hex digits followed by '-', or version "ff";
//   * any id or flags field not lowercase hex of the exact length, or a missing '-';
//   * an all-zero trace-id or parent-id;
//   * version 00 with anything after the flags;
//   * a higher version shorter than 55 characters, or whose flags are followed by something
//     other than '-' (fields a future version appends after a '-' are ignored; its first 55
//     characters are read with the version-00 layout: "Versioning of traceparent").
// Any flags byte is accepted; callers read the bits they know (sampled(), random()).
std::optional<TraceParent> parse_traceparent(std::string_view value) noexcept;

// Writes "00-<trace-id>-<span-id>-<flags>" (exactly kTraceparentLength chars, no terminator).
// Only the bits in kKnownFlags are written; the reserved ones are zeroed, as the spec requires
// ("Other Flags"). A bool converts to 0 / kFlagSampled, so `sampled` alone still works.
void format_traceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags,
                        char* out) noexcept;

template <std::size_t N>
bool is_all_zero(const std::array<std::uint8_t, N>& id) noexcept {
  for (auto b : id) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace captain::trace
