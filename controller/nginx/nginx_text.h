// The first line of defence between user-provided text and the generated nginx configuration:
// every value the renderer puts into a config file goes through one of these checks, which
// accept only the characters of the grammar the renderer emits and refuse everything else with
// an error naming the field (nothing is ever escaped into shape). Snippets are tokenized the
// way nginx reads them; an app's may use only an allow-list of directives. `nginx -t` on the
// rendered tree stays the final word. Pure functions, no I/O, nothing throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "controller/common/expected.h"

namespace captain::nginx {

struct TextError {
  std::string field;     // e.g. "customDomain[1]", "snippet"
  std::size_t line = 0;  // 1-based line in a snippet; 0 when not about a snippet
  std::string message;   // a whole sentence naming the field (and the line)
  friend bool operator==(const TextError&, const TextError&) = default;
};

template <class T>
using Checked = Expected<T, TextError>;

inline constexpr std::size_t kMaxSnippetBytes = 64 * 1024;

// An app name: [a-z0-9-], 1-63 bytes, alphanumeric ends, no "--". Emitted bare (server_name
// label, service host, zone and route names).
Checked<std::string> check_app_name(std::string_view name, std::string_view field = "appName");

// A host name for server_name: lowercase [a-z0-9.-], labels of 1-63 bytes not starting or
// ending with '-', at most 253 bytes, at least two labels. Emitted bare.
Checked<std::string> check_domain(std::string_view domain, std::string_view field);

// A rate for captain_limit_zone: "<N>r/<unit>" or "<N>r/<K><unit>" (controller/apps grammar).
Checked<std::string> check_rate(std::string_view rate, std::string_view field = "rateLimit");

// A file path: [A-Za-z0-9._/-], no "..", not starting with '-', 1-4096 bytes. Emitted bare.
Checked<std::string> check_path(std::string_view path, std::string_view field);

// An address for allow/resolver/listen hosts: an IPv4 or IPv6 literal with an optional
// "/prefix" (CIDR) when allow_prefix. Returned in the form given (validated, not rewritten).
Checked<std::string> check_ip(std::string_view text, std::string_view field, bool allow_prefix);

// A shared memory size for a zone directive: digits with an optional k/m/g, at least 32k.
Checked<std::string> check_size(std::string_view size, std::string_view field);

// A bearer token (RFC 6750 token68 characters [A-Za-z0-9._~+/=-]), 16-256 bytes.
Checked<std::string> check_token(std::string_view token, std::string_view field);

// A host name or IP literal for proxy_pass targets (published-port mode host).
Checked<std::string> check_host(std::string_view host, std::string_view field);

// Where an operator snippet is included: inside one app's server block, or at http level
// (the global override).
enum class SnippetContext { server, http };

// Tokenizes the snippet as nginx does (quotes, backslash escapes, '#' comments, "${var}") and
// refuses: NUL/control bytes, more than kMaxSnippetBytes, an unterminated quote, a '}' without
// its '{', an unclosed '{', a directive without ';', include, load_module and main-context
// directives anywhere. Then, by context:
// - server (an app's customNginxConfig): an allow-list. Only directives that act inside the
//   server block (and the location/if/limit_except blocks nested in it), take no file-system
//   path and use no state shared with other apps; `access_log`, `captain_limit`,
//   `captain_cache` and `captain_metrics` only as "off"; no unix-socket *_pass target, no
//   `if` file test (-f, -d, -e, -x), no ".." path segment in any argument; and not
//   `location /` or the ACME location, which the renderer owns.
// - http (the operator's override file): everything but `*_temp_path`, `ssl_certificate*`
//   and embedded code (perl*, js_*, *lua*).
// The error names `field`, the 1-based line and the directive.
Checked<std::string> check_snippet(std::string_view text, SnippetContext context,
                                   std::string_view field = "snippet");

}  // namespace captain::nginx
