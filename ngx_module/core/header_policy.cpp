#include "ngx_module/core/header_policy.h"

#include <algorithm>
#include <array>

#include "ngx_module/core/http_text.h"

namespace captain {

namespace {

using http_text::ascii_lower;
using http_text::is_token_char;

struct Reserved {
  std::string_view name;
  std::string_view owner;
};

// Headers whose bytes nginx computes itself; touching them breaks responses.
constexpr std::array<Reserved, 8> kFramingHeaders{{
    {"Content-Length", "nginx"},
    {"Content-Type", "nginx"},
    {"Transfer-Encoding", "nginx"},
    {"Connection", "nginx"},
    {"Keep-Alive", "nginx"},
    {"Upgrade", "nginx"},
    {"Date", "nginx"},
    {"Content-Encoding", "nginx"},
}};

// Headers other captain features own.
constexpr std::array<Reserved, 4> kFeatureHeaders{{
    {"X-Request-ID", "captain_request_id"},
    {"traceparent", "captain_trace"},
    {"tracestate", "captain_trace"},
    {"X-Response-Time", "captain_response_time"},
}};

template <std::size_t N>
std::optional<std::string> reserved_reason(std::string_view name,
                                           const std::array<Reserved, N>& table) {
  for (const auto& r : table) {
    if (header_names_equal(name, r.name)) {
      return "\"" + std::string(r.name) + "\" is managed by " + std::string(r.owner);
    }
  }
  return std::nullopt;
}

}  // namespace

bool header_names_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool is_tls_only_header(std::string_view name) noexcept {
  return header_names_equal(name, "Strict-Transport-Security");
}

HeaderPolicy default_security_policy() {
  HeaderPolicy p;
  p.headers = {
      {"X-Frame-Options", "SAMEORIGIN", HeaderAction::set},
      {"X-Content-Type-Options", "nosniff", HeaderAction::set},
      {"Referrer-Policy", "strict-origin-when-cross-origin", HeaderAction::set},
      {"Permissions-Policy", "geolocation=(), microphone=(), camera=()", HeaderAction::set},
      {"X-XSS-Protection", "0", HeaderAction::set},
      {"Strict-Transport-Security", "max-age=63072000; includeSubDomains", HeaderAction::set},
  };
  p.hidden = {"X-Powered-By"};
  return p;
}

HeaderPolicy merge_policy(const HeaderPolicy& parent, const HeaderOverrides& own) {
  HeaderPolicy merged = parent;

  for (const auto& rule : own.rules) {
    auto same_name = [&](const HeaderRule& h) { return header_names_equal(h.name, rule.name); };
    auto it = std::find_if(merged.headers.begin(), merged.headers.end(), same_name);
    if (rule.action == HeaderAction::remove) {
      if (it != merged.headers.end()) merged.headers.erase(it);
    } else if (it != merged.headers.end()) {
      *it = rule;
    } else {
      merged.headers.push_back(rule);
    }
  }

  for (const auto& name : own.hidden) {
    auto same_name = [&](const std::string& h) { return header_names_equal(h, name); };
    if (std::none_of(merged.hidden.begin(), merged.hidden.end(), same_name)) {
      merged.hidden.push_back(name);
    }
  }
  return merged;
}

std::optional<std::string> check_header_name(std::string_view name) {
  if (name.empty()) return std::string("a header name cannot be empty");
  for (char c : name) {
    if (!is_token_char(c)) {
      return std::string("a header name may only contain letters, digits and !#$%&'*+-.^_`|~");
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_header_value(std::string_view value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return std::string("a header value may not contain control characters (CR, LF, NUL, ...)");
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_settable_header(std::string_view name) {
  if (auto reason = reserved_reason(name, kFramingHeaders)) return reason;
  if (header_names_equal(name, "Server")) {
    return std::string(
        "\"Server\" is managed by nginx (server_tokens); it can be hidden with "
        "captain_hide_header");
  }
  return reserved_reason(name, kFeatureHeaders);
}

std::optional<std::string> check_hideable_header(std::string_view name) {
  if (auto reason = reserved_reason(name, kFramingHeaders)) return reason;
  return reserved_reason(name, kFeatureHeaders);
}

}  // namespace captain
