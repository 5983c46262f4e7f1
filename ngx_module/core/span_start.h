// Deciding the trace context of the span nginx opens for a request: continue a valid parent
// or start a new trace, with parent-based sampling.
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
};

// A valid parent keeps its trace id and its sampled flag (parent-based sampling: the caller's
// decision is honored both ways); without one a new trace id is drawn and sampled with
// probability sample_ppm / 1e6. The span id is always new.
SpanStart start_span(const std::optional<trace::TraceParent>& parent, std::uint32_t sample_ppm,
                     IdGenerator& ids) noexcept;

// Parses a sampling ratio "0" ... "1" with at most 6 decimals ("0.25", "1.0", ".5") into parts
// per million. nullopt for anything else (negative, > 1, exponents, more decimals).
std::optional<std::uint32_t> parse_sample_rate_ppm(std::string_view text) noexcept;

}  // namespace captain
