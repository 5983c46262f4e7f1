// W3C Trace Context `tracestate`: validation, normalization and bounded propagation
// (https://www.w3.org/TR/trace-context/#tracestate-header).
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
  invalid,  // malformed member, duplicate key or more than 32 members: drop the header
};

struct TraceStateResult {
  TraceStateStatus status = TraceStateStatus::empty;
  std::size_t length = 0;  // characters written to out when status == ok
};

// Normalizes a combined tracestate value (several header fields joined with ','): every
// list-member is validated (key/value grammar of the current W3C editor's draft, which accepts
// every key of the 2021 Recommendation), empty members and optional whitespace are dropped,
// keys must be unique and at most 32 members may appear. If the result exceeds 512
// characters, whole members are removed: those over 128 characters first, then from the
// right. `out` needs at least combined.size() characters; it may not overlap `combined`.
TraceStateResult normalize_tracestate(std::string_view combined, char* out) noexcept;

// Key and value grammar, exposed for tests and the fuzz target.
bool is_valid_tracestate_key(std::string_view key) noexcept;
bool is_valid_tracestate_value(std::string_view value) noexcept;

}  // namespace captain::trace
