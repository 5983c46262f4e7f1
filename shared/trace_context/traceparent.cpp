#include "shared/trace_context/traceparent.h"

#include "shared/encoding/hex.h"
#include "shared/trace_context/whitespace.h"

namespace captain::trace {

namespace {

constexpr std::size_t kVersionEnd = 2;  // "vv"

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view value) noexcept {
  value = trim_ows(value);

  if (value.size() < kVersionEnd + 1 || value[kVersionEnd] != '-') return std::nullopt;

  TraceParent parsed;
  if (!hex_decode_lower(value.substr(0, 2), &parsed.version, 1)) return std::nullopt;
  if (parsed.version == 0xff) return std::nullopt;

  // Version 00 is exactly 55 characters; a higher version must be at least that long and may
  // only continue with '-' and fields we must not interpret.
  if (parsed.version == 0x00) {
    if (value.size() != kTraceparentLength) return std::nullopt;
  } else {
    if (value.size() < kTraceparentLength) return std::nullopt;
    if (value.size() > kTraceparentLength && value[kTraceparentLength] != '-') return std::nullopt;
  }

  if (value[kParentIdOffset - 1] != '-' || value[kFlagsOffset - 1] != '-') return std::nullopt;

  if (!hex_decode_lower(value.substr(kTraceIdOffset, 32), parsed.trace_id.data(), 16) ||
      !hex_decode_lower(value.substr(kParentIdOffset, 16), parsed.parent_id.data(), 8) ||
      !hex_decode_lower(value.substr(kFlagsOffset, 2), &parsed.flags, 1)) {
    return std::nullopt;
  }

  if (is_all_zero(parsed.trace_id) || is_all_zero(parsed.parent_id)) return std::nullopt;

  return parsed;
}

void format_traceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags,
                        char* out) noexcept {
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  hex_encode(trace_id.data(), trace_id.size(), out + kTraceIdOffset);
  out[kParentIdOffset - 1] = '-';
  hex_encode(span_id.data(), span_id.size(), out + kParentIdOffset);
  out[kFlagsOffset - 1] = '-';
  const auto known = static_cast<std::uint8_t>(flags & kKnownFlags);
  hex_encode(&known, 1, out + kFlagsOffset);
}

}  // namespace captain::trace
