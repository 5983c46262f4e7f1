// libFuzzer target for normalize_tracestate.
//
// Invariants checked on every input:
//   * whether the list is rejected agrees with an independent reading of the grammar
//     (key/value rules, at most 32 non-empty members); a repeated key does not reject the
//     list, only the leftmost member with that key is kept (Trace Context Level 2);
//   * an ok result is non-empty, at most 512 characters and at most the input size, and is
//     written inside an output buffer of exactly the input size (ASan checks the bound);
//   * every member of the output satisfies the key/value validators, has no surrounding
//     whitespace, and keys are unique; the output members are input members, in input order;
//   * nothing is dropped when the normalized list fits in 512 characters, and otherwise no more
//     than needed: members over 128 characters first, then the others, each from the right;
//   * normalizing the output again gives the identical string.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "shared/trace_context/tracestate.h"

namespace {

using captain::trace::TraceStateResult;
using captain::trace::TraceStateStatus;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  while (begin < end && ows(s[begin])) ++begin;
  while (end > begin && ows(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ',') {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// Independent grammar: key = (lcalpha / DIGIT) 0*255(lcalpha / DIGIT / _ - * / @),
// value = 0*255(%x20-7E except , =) ending in a non-space.
bool ref_keychar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
         c == '/' || c == '@';
}

bool ref_key(std::string_view k) {
  if (k.empty() || k.size() > 256) return false;
  const char first = k.front();
  if (!((first >= 'a' && first <= 'z') || (first >= '0' && first <= '9'))) return false;
  for (char c : k) {
    if (!ref_keychar(c)) return false;
  }
  return true;
}

bool ref_value(std::string_view v) {
  if (v.empty() || v.size() > 256 || v.back() == ' ') return false;
  for (char c : v) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

struct RefMember {
  std::string_view text;
  std::string_view key;
};

// The trimmed non-empty members, first of each key, or false when the list must be rejected.
bool reference_members(std::string_view list, std::vector<RefMember>& out) {
  std::size_t received = 0;
  for (std::string_view part : split_commas(list)) {
    const std::string_view m = trim(part);
    if (m.empty()) continue;
    const std::size_t eq = m.find('=');
    if (eq == std::string_view::npos) return false;
    const std::string_view key = m.substr(0, eq);
    if (!ref_key(key) || !ref_value(m.substr(eq + 1))) return false;
    if (++received > 32) return false;
    bool seen_key = false;
    for (const auto& seen : out) seen_key = seen_key || seen.key == key;
    if (!seen_key) out.push_back({m, key});
  }
  return true;
}

// Truncation removes no more than it must: members over 128 characters go before any other,
// each kind from the right, and the member removed last did not fit.
void check_minimal_truncation(const std::vector<RefMember>& members, std::string_view output) {
  constexpr std::size_t kLong = captain::trace::kLongTraceStateMember;
  const std::vector<std::string_view> kept =
      output.empty() ? std::vector<std::string_view>{} : split_commas(output);
  // Mark which input members were kept (output is a subsequence of the input members).
  std::vector<bool> is_kept(members.size(), false);
  std::size_t k = 0;
  for (std::size_t i = 0; i < members.size() && k < kept.size(); ++i) {
    if (members[i].text == kept[k]) {
      is_kept[i] = true;
      ++k;
    }
  }
  check(k == kept.size());

  const auto fits_with = [&](std::string_view m) {
    const std::size_t grown = output.empty() ? m.size() : output.size() + 1 + m.size();
    return grown <= captain::trace::kMaxTraceStateLength;
  };

  // Per kind (long, short): once one is dropped, every one of that kind to its right is too.
  // The leftmost dropped one of a kind is the last of that kind to go.
  bool dropped_short = false;
  bool dropped_long = false;
  std::string_view leftmost_dropped_short;
  std::string_view leftmost_dropped_long;
  bool long_kept = false;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const std::string_view m = members[i].text;
    const bool is_long = m.size() > kLong;
    bool& dropped = is_long ? dropped_long : dropped_short;
    if (is_kept[i]) {
      check(!dropped);
      if (is_long) long_kept = true;
      continue;
    }
    if (!dropped) (is_long ? leftmost_dropped_long : leftmost_dropped_short) = m;
    dropped = true;
  }
  if (dropped_short) {
    check(!long_kept);
    check(!fits_with(leftmost_dropped_short));
  } else if (dropped_long) {
    check(!fits_with(leftmost_dropped_long));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto out = std::make_unique<char[]>(size);
  const TraceStateResult result = captain::trace::normalize_tracestate(input, out.get());

  std::vector<RefMember> members;
  const bool valid = reference_members(input, members);
  check((result.status == TraceStateStatus::invalid) == !valid);
  if (!valid) return 0;

  std::size_t joined = 0;
  for (const auto& m : members) joined += m.text.size() + 1;
  if (joined > 0) --joined;

  if (result.status == TraceStateStatus::empty) {
    // Nothing kept: either no members, or the only ones could not fit.
    check(members.empty() || joined > captain::trace::kMaxTraceStateLength);
    check_minimal_truncation(members, {});
    return 0;
  }

  check(result.status == TraceStateStatus::ok);
  check(result.length > 0);
  check(result.length <= captain::trace::kMaxTraceStateLength);
  check(result.length <= size);
  const std::string_view normalized(out.get(), result.length);
  if (joined <= captain::trace::kMaxTraceStateLength) check(result.length == joined);

  // Output members: valid, trimmed, unique, and a subsequence of the input members.
  std::size_t next_input = 0;
  std::vector<std::string_view> keys;
  for (std::string_view m : split_commas(normalized)) {
    check(!m.empty());
    check(!ows(m.front()) && !ows(m.back()));
    const std::size_t eq = m.find('=');
    check(eq != std::string_view::npos);
    const std::string_view key = m.substr(0, eq);
    check(captain::trace::is_valid_tracestate_key(key));
    check(captain::trace::is_valid_tracestate_value(m.substr(eq + 1)));
    for (std::string_view k : keys) check(k != key);
    keys.push_back(key);
    while (next_input < members.size() && members[next_input].text != m) ++next_input;
    check(next_input < members.size());
    ++next_input;
  }
  check(keys.size() <= captain::trace::kMaxTraceStateMembers);
  check_minimal_truncation(members, normalized);

  const auto again_out = std::make_unique<char[]>(result.length);
  const TraceStateResult again = captain::trace::normalize_tracestate(normalized, again_out.get());
  check(again.status == TraceStateStatus::ok);
  check(std::string_view(again_out.get(), again.length) == normalized);
  return 0;
}
