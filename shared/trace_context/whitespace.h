// HTTP optional whitespace (RFC 9110 OWS: SP / HTAB) helpers for header field values.
#pragma once

#include <string_view>

namespace captain::trace {

inline bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

inline std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace captain::trace
