#include "ngx_module/core/span_start.h"

namespace captain {

SpanStart start_span(const std::optional<trace::TraceParent>& parent, std::uint32_t sample_ppm,
                     IdGenerator& ids) noexcept {
  SpanStart span;
  if (parent) {
    span.trace_id = parent->trace_id;
    span.parent_span_id = parent->parent_id;
    span.has_parent = true;
    span.sampled = parent->sampled();
    span.random = parent->random();
  } else {
    ids.fill_nonzero(span.trace_id);
    span.sampled = ids.chance_ppm(sample_ppm);
    span.random = true;
  }
  ids.fill_nonzero(span.span_id);
  return span;
}

std::optional<std::uint32_t> parse_sample_rate_ppm(std::string_view text) noexcept {
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);

  if (whole.size() > 1 || fraction.size() > 6) return std::nullopt;
  if (whole.empty() && fraction.empty()) return std::nullopt;
  if (dot != std::string_view::npos && fraction.empty()) return std::nullopt;  // "1."

  std::uint32_t ppm = 0;
  if (!whole.empty()) {
    if (whole[0] != '0' && whole[0] != '1') return std::nullopt;
    ppm = whole[0] == '1' ? kSampleAll : 0;
  }
  std::uint32_t scale = 100'000;
  for (char c : fraction) {
    if (c < '0' || c > '9') return std::nullopt;
    ppm += static_cast<std::uint32_t>(c - '0') * scale;
    scale /= 10;
  }
  if (ppm > kSampleAll) return std::nullopt;  // "1.5"
  return ppm;
}

}  // namespace captain
