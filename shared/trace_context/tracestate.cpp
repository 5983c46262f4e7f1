#include "shared/trace_context/tracestate.h"

#include <array>
#include <cstring>

#include "shared/trace_context/whitespace.h"

namespace captain::trace {

namespace {

constexpr std::size_t kMaxKeyLength = 256;
constexpr std::size_t kMaxValueLength = 256;

bool is_lcalpha(char c) noexcept {
  return c >= 'a' && c <= 'z';
}
bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool is_keychar(char c) noexcept {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/' || c == '@';
}

// nblk-chr = %x21-2B / %x2D-3C / %x3E-7E  (printable, not ',' or '=')
bool is_nblk_chr(char c) noexcept {
  return c >= 0x21 && c <= 0x7e && c != ',' && c != '=';
}

struct Member {
  std::string_view text;  // "key=value" without surrounding whitespace
  std::size_t key_length;
  bool keep;
};

}  // namespace

bool is_valid_tracestate_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  if (!is_lcalpha(key[0]) && !is_digit(key[0])) return false;
  for (char c : key.substr(1)) {
    if (!is_keychar(c)) return false;
  }
  return true;
}

bool is_valid_tracestate_value(std::string_view value) noexcept {
  // value = 0*255(chr) nblk-chr ; chr = %x20 / nblk-chr
  if (value.empty() || value.size() > kMaxValueLength) return false;
  if (!is_nblk_chr(value.back())) return false;
  for (char c : value) {
    if (c != ' ' && !is_nblk_chr(c)) return false;
  }
  return true;
}

TraceStateResult normalize_tracestate(std::string_view combined, char* out) noexcept {
  std::array<Member, kMaxTraceStateMembers> members;
  std::size_t count = 0;     // distinct keys, kept in `members`
  std::size_t received = 0;  // non-empty list-members, duplicates included

  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = combined.find(',', pos);
    const std::size_t end = comma == std::string_view::npos ? combined.size() : comma;
    const std::string_view member = trim_ows(combined.substr(pos, end - pos));

    if (!member.empty()) {
      const std::size_t eq = member.find('=');
      if (eq == std::string_view::npos) return {TraceStateStatus::invalid, 0};
      // Leading spaces of a value belong to it; trailing ones are optional whitespace that
      // trim_ows already removed. No whitespace is allowed between key and '='.
      const std::string_view key = member.substr(0, eq);
      const std::string_view value = member.substr(eq + 1);
      if (!is_valid_tracestate_key(key) || !is_valid_tracestate_value(value)) {
        return {TraceStateStatus::invalid, 0};
      }
      if (++received > kMaxTraceStateMembers) return {TraceStateStatus::invalid, 0};
      // A repeated key is an upstream participant's mistake, not a reason to lose the list:
      // Level 2 lets us discard duplicates we did not generate. The leftmost entry is the most
      // recent position of that vendor, so it is the one kept.
      bool duplicate = false;
      for (std::size_t i = 0; i < count && !duplicate; ++i) {
        duplicate = members[i].text.substr(0, members[i].key_length) == key;
      }
      if (!duplicate) members[count++] = Member{member, key.size(), true};
    }

    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }

  if (count == 0) return {TraceStateStatus::empty, 0};

  // Joined length: members plus one comma between each pair.
  std::size_t total = count - 1;
  for (std::size_t i = 0; i < count; ++i) total += members[i].text.size();

  // Level 2 "tracestate Limits": whole entries go, those over 128 characters first, then from
  // the end of the list. Both passes walk from the right, so the oldest entries go before the
  // newest (leftmost) ones, and each stops as soon as the list fits.
  std::size_t kept = count;
  auto drop = [&](Member& m) {
    m.keep = false;
    total -= m.text.size() + (kept > 1 ? 1 : 0);
    --kept;
  };
  for (std::size_t i = count; i-- > 0 && total > kMaxTraceStateLength;) {
    if (members[i].text.size() > kLongTraceStateMember) drop(members[i]);
  }
  for (std::size_t i = count; i-- > 0 && total > kMaxTraceStateLength;) {
    if (members[i].keep) drop(members[i]);
  }
  if (kept == 0) return {TraceStateStatus::empty, 0};

  std::size_t length = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!members[i].keep) continue;
    if (length != 0) out[length++] = ',';
    std::memcpy(out + length, members[i].text.data(), members[i].text.size());
    length += members[i].text.size();
  }
  return {TraceStateStatus::ok, length};
}

}  // namespace captain::trace
