// Host names users attach to apps (custom domains): RFC 1123 syntax, checked before they reach
// an nginx server_name or a certificate request.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace captain::validation {

inline constexpr std::size_t kDomainMaxLength = 253;
inline constexpr std::size_t kDomainLabelMaxLength = 63;

// ASCII-only lowercasing: domains compare case-insensitively, so they are stored lowercased.
std::string lowercase_ascii(std::string_view text);

// Empty when `domain` (already lowercased) is acceptable; otherwise a sentence saying why not.
// Decisions beyond RFC 1123:
//   * at least two labels ("localhost" is not a public domain);
//   * no trailing dot: "example.com." would be a second spelling of the same name in
//     server_name and certificate requests, so it is refused rather than silently rewritten;
//   * no wildcards, no underscores, no IDN in Unicode form (punycode "xn--" labels are fine);
//   * the last label may not be all digits, so an IPv4 address is not taken for a domain.
std::string domain_problem(std::string_view domain);

}  // namespace captain::validation
