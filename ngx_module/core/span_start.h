// Deciding the trace context of the span nginx opens for a request: continue a valid parent
// or start a new trace, with parent-based sampling and W3C Trace Context Level 2 trace-flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "ngx_module/core/id_generator.h"
#include "shared/trace_context/traceparent.h"

namespace captain {

inline constexpr std::uint32_t kSampleAll = 1'000'000;  // parts per million

struct SpanStart {
  trace::TraceId trace_id{};
  trace::SpanId span_id{};
  trace::SpanId parent_span_id{};
  bool has_parent = false;
  bool sampled = false;
  // Level 2 random-trace-id flag: the right-most 7 bytes of trace_id are uniformly random. Set
  // for a trace we start (all 16 bytes come from IdGenerator); copied from a parent, because a
  // participant keeping the trace id MUST keep this flag as it was received.
  bool random = false;

  // The trace-flags byte to send: sampled and random; reserved bits are always zero.
  std::uint8_t trace_flags() const noexcept {
    return static_cast<std::uint8_t>((sampled ? trace::kFlagSampled : 0) |
                                     (random ? trace::kFlagRandom : 0));
  }
};

// A valid parent keeps its trace id, its sampled flag (parent-based sampling: the caller's
// decision is honored both ways) and its random-trace-id flag; its reserved flag bits are
// dropped. Without one a new random trace id is drawn (random flag set) and sampled with
// probability sample_ppm / 1e6. The span id is always new.
SpanStart start_span(const std::optional<trace::TraceParent>& parent, std::uint32_t sample_ppm,
                     IdGenerator& ids) noexcept;

// Parses a sampling ratio "0" ... "1" with at most 6 decimals ("0.25", "1.0", ".5") into parts
// per million. nullopt for anything else (negative, > 1, exponents, more decimals).
std::optional<std::uint32_t> parse_sample_rate_ppm(std::string_view text) noexcept;

}  // namespace captain
