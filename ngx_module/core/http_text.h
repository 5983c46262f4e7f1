// Small character-level helpers for HTTP header text (RFC 9110), shared by the header policy
// and the cache's parsers. Header-only and allocation-free: they run on request bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace captain::http_text {

// RFC 9110 §5.6.2 tchar.
constexpr bool is_token_char(char ch) noexcept {
  const auto c = static_cast<unsigned char>(ch);
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

constexpr bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// `text` equals `lowercase` ignoring ASCII case; `lowercase` must already be lowercase.
constexpr bool equals_lowercase(std::string_view text, std::string_view lowercase) noexcept {
  if (text.size() != lowercase.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (ascii_lower(text[i]) != lowercase[i]) return false;
  }
  return true;
}

// Without leading and trailing spaces and tabs (OWS).
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace captain::http_text
