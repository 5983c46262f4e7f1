// Security response headers: the default set, per-level overrides, and how a level
// (http / server / location) inherits from the one around it.
//
// Unlike nginx's add_header, a level that changes one header keeps every other inherited one:
// overrides apply on top of the parent's effective policy instead of replacing it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace captain {

enum class HeaderAction {
  set,            // replace whatever the upstream sent
  set_if_absent,  // keep the upstream's value when it sent one
  remove,         // do not add this header (an empty value in captain_security_header)
};

struct HeaderRule {
  std::string name;
  std::string value;
  HeaderAction action = HeaderAction::set;
};

// What one configuration level declares, in directive order.
struct HeaderOverrides {
  std::vector<HeaderRule> rules;    // captain_security_header
  std::vector<std::string> hidden;  // captain_hide_header
};

// The effective policy of a level.
struct HeaderPolicy {
  std::vector<HeaderRule> headers;  // added to responses, in this order (never `remove`)
  std::vector<std::string> hidden;  // stripped from upstream responses
};

// Headers plus hidden names one level may end up with; keeps the response filter's
// bookkeeping in a fixed-size bitmap.
inline constexpr std::size_t kMaxPolicyEntries = 64;

// X-Frame-Options SAMEORIGIN, X-Content-Type-Options nosniff, Referrer-Policy
// strict-origin-when-cross-origin, Permissions-Policy geolocation=(), microphone=(), camera=(),
// X-XSS-Protection 0 (current OWASP advice), Strict-Transport-Security (sent over TLS only);
// X-Powered-By hidden.
HeaderPolicy default_security_policy();

// The parent's policy with `own` applied in order: a rule replaces the inherited header of the
// same name in place (or appends a new one), a `remove` rule drops it, hidden names add to the
// inherited ones.
HeaderPolicy merge_policy(const HeaderPolicy& parent, const HeaderOverrides& own);

bool header_names_equal(std::string_view a, std::string_view b) noexcept;

// HSTS must only be sent over TLS (RFC 6797 section 7.2).
bool is_tls_only_header(std::string_view name) noexcept;

// Configuration checks. Each returns nullopt when acceptable, else the reason to show.
std::optional<std::string> check_header_name(std::string_view name);
std::optional<std::string> check_header_value(std::string_view value);
// Names this feature may not set: framing headers nginx owns and headers other captain
// features own.
std::optional<std::string> check_settable_header(std::string_view name);
// Names that may not be hidden: framing headers nginx owns and headers other captain features
// own (Server can be hidden).
std::optional<std::string> check_hideable_header(std::string_view name);

}  // namespace captain
