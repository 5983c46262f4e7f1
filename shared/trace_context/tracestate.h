// W3C Trace Context Level 2 `tracestate`: validation, normalization and bounded propagation
// (https://www.w3.org/TR/trace-context-2/#tracestate-header).
#pragma once

#include <cstddef>
#include <string_view>

namespace captain::trace {

inline constexpr std::size_t kMaxTraceStateMembers = 32;
// The spec asks vendors to propagate at least 512 characters; we propagate exactly that much.
inline constexpr std::size_t kMaxTraceStateLength = 512;
// When truncating, members longer than this go first (spec: "larger than 128 characters").
inline constexpr std::size_t kLongTraceStateMember = 128;

enum class TraceStateStatus {
  ok,       // out holds the normalized value
  empty,    // no members (empty or whitespace-only lists are allowed): send nothing
  invalid,  // a malformed member or more than 32 members: drop the whole header
};

struct TraceStateResult {
  TraceStateStatus status = TraceStateStatus::empty;
  std::size_t length = 0;  // characters written to out when status == ok
};

// Normalizes a combined tracestate value (several header fields joined with ',', RFC 9110
// field order) the way Level 2 and its test suite expect:
//   * tolerated: empty and whitespace-only list-members, optional whitespace (SP / HTAB)
//     around members, an empty or whitespace-only header, repeated keys (the leftmost entry
//     is kept, later ones are discarded);
//   * the whole header is invalid: a member without '=', a key or value outside the Level 2
//     grammar (uppercase, '.', whitespace before '=', over 256 characters, ...), or more than
//     32 non-empty members received;
//   * over 512 characters after normalization, whole members are removed: those over 128
//     characters first, then the others, each starting from the right (oldest) end, and only
//     until the list fits.
// The output is the kept members in received order, joined with ',' and without whitespace.
// `out` needs at least combined.size() characters; it may not overlap `combined`.
TraceStateResult normalize_tracestate(std::string_view combined, char* out) noexcept;

// Key and value grammar, exposed for tests and the fuzz target.
bool is_valid_tracestate_key(std::string_view key) noexcept;
bool is_valid_tracestate_value(std::string_view value) noexcept;

}  // namespace captain::trace
