#include "controller/nginx/nginx_text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <vector>

#include "shared/validation/rate.h"

namespace captain::nginx {
namespace {

bool is_lower_alnum(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}
bool is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}
bool is_alpha(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

// The value as it may appear in an error message: control bytes, quotes, backslashes and
// non-ASCII as \xNN, cut after 64 bytes, so a hostile value cannot forge log lines.
std::string shown(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  std::size_t n = 0;
  for (char c : value) {
    if (++n > 64) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out + "\"";
}

Unexpected<TextError> refuse(std::string_view field, std::string_view value, std::string_view why) {
  return Unexpected(TextError{std::string(field), 0,
                              std::string(field) + " " + shown(value) + " " + std::string(why)});
}

Unexpected<TextError> refuse_line(std::string_view field, std::size_t line,
                                  const std::string& why) {
  return Unexpected(TextError{std::string(field), line,
                              std::string(field) + " line " + std::to_string(line) + ": " + why});
}

}  // namespace

Checked<std::string> check_app_name(std::string_view name, std::string_view field) {
  if (name.empty() || name.size() > 63) {
    return refuse(field, name, "must be 1 to 63 characters long");
  }
  for (char ch : name) {
    if (!is_lower_alnum(ch) && ch != '-') {
      return refuse(field, name, "may contain only lowercase letters, digits and '-'");
    }
  }
  if (name.front() == '-' || name.back() == '-') {
    return refuse(field, name, "must start and end with a letter or digit");
  }
  if (name.find("--") != std::string_view::npos)
    return refuse(field, name, "must not contain \"--\"");
  return std::string(name);
}

Checked<std::string> check_domain(std::string_view domain, std::string_view field) {
  if (domain.empty() || domain.size() > 253) {
    return refuse(field, domain, "must be 1 to 253 characters long");
  }
  for (char ch : domain) {
    if (!is_lower_alnum(ch) && ch != '-' && ch != '.') {
      return refuse(field, domain, "may contain only lowercase letters, digits, '-' and '.'");
    }
  }
  std::size_t labels = 0;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63) {
      return refuse(field, domain, "must be dot-separated labels of 1 to 63 characters");
    }
    if (label.front() == '-' || label.back() == '-') {
      return refuse(field, domain, "has a label starting or ending with '-'");
    }
    ++labels;
    start = dot + 1;
  }
  if (labels < 2) return refuse(field, domain, "must have at least two labels");
  return std::string(domain);
}

Checked<std::string> check_rate(std::string_view rate, std::string_view field) {
  // The app validation's rule, not a copy of it: a rate an app was saved with must not be
  // refused here (a 7-digit copy refused "00150100r/5m", which the validation and the module
  // accept; found by fuzz_nginx_text).
  if (auto problem = validation::rate_problem(rate); !problem.empty()) {
    return refuse(field, rate, problem);
  }
  return std::string(rate);
}

Checked<std::string> check_path(std::string_view path, std::string_view field) {
  if (path.empty() || path.size() > 4096)
    return refuse(field, path, "must be 1 to 4096 characters long");
  for (char ch : path) {
    if (!is_alpha(ch) && !is_digit(ch) && ch != '.' && ch != '_' && ch != '/' && ch != '-') {
      return refuse(field, path, "may contain only letters, digits, '.', '_', '/' and '-'");
    }
  }
  if (path.front() == '-') return refuse(field, path, "must not start with '-'");
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (path.substr(start, slash - start) == "..")
      return refuse(field, path, "must not contain \"..\"");
    start = slash + 1;
  }
  return std::string(path);
}

Checked<std::string> check_ip(std::string_view text, std::string_view field, bool allow_prefix) {
  if (text.empty() || text.size() > 64) return refuse(field, text, "is not an IP address");
  // inet_pton reads a C string: it would check the address up to a NUL and pass the bytes after
  // it, which are emitted all the same.
  if (text.find('\0') != std::string_view::npos) return refuse(field, text, "contains a NUL byte");
  std::string_view addr = text;
  std::string_view prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    if (!allow_prefix) return refuse(field, text, "must be an IP address without a prefix");
    addr = text.substr(0, slash);
    prefix = text.substr(slash + 1);
  }
  std::string host(addr);
  std::array<unsigned char, 16> buf{};
  int bits = 0;
  if (inet_pton(AF_INET, host.c_str(), buf.data()) == 1) {
    bits = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), buf.data()) == 1) {
    bits = 128;
  } else {
    return refuse(
        field, text,
        allow_prefix ? "is not an IP address or CIDR (like 10.0.0.0/8)" : "is not an IP address");
  }
  if (text.find('/') != std::string_view::npos) {
    if (prefix.empty() || prefix.size() > 3) return refuse(field, text, "has a bad prefix length");
    int n = 0;
    for (char ch : prefix) {
      if (!is_digit(ch)) return refuse(field, text, "has a bad prefix length");
      n = n * 10 + (ch - '0');
    }
    if (n > bits) return refuse(field, text, "has a prefix longer than the address");
  }
  return std::string(text);
}

Checked<std::string> check_token(std::string_view token, std::string_view field) {
  if (token.size() < 16 || token.size() > 256) {
    return Unexpected(TextError{std::string(field), 0,
                                std::string(field) + " must be 16 to 256 characters long"});
  }
  for (char ch : token) {
    if (!is_alpha(ch) && !is_digit(ch) && ch != '.' && ch != '_' && ch != '~' && ch != '+' &&
        ch != '/' && ch != '=' && ch != '-') {
      // The token is a secret: never echoed.
      return Unexpected(
          TextError{std::string(field), 0,
                    std::string(field) + " may contain only letters, digits and . _ ~ + / = -"});
    }
  }
  return std::string(token);
}

Checked<std::string> check_size(std::string_view size, std::string_view field) {
  std::size_t digits = 0;
  while (digits < size.size() && is_digit(size[digits])) ++digits;
  const std::string_view unit = size.substr(digits);
  const bool unit_ok =
      unit.empty() ||
      (unit.size() == 1 && std::string_view("kKmMgG").find(unit[0]) != std::string_view::npos);
  if (digits == 0 || digits > 9 || !unit_ok) {
    return refuse(field, size, "is not a size such as 512k or 64m");
  }
  unsigned long long bytes = std::stoull(std::string(size.substr(0, digits)));
  if (!unit.empty()) {
    const char u = static_cast<char>(unit[0] | 0x20);
    bytes <<= (u == 'k' ? 10 : u == 'm' ? 20 : 30);
  }
  if (bytes < 32 * 1024) return refuse(field, size, "is smaller than 32k");
  return std::string(size);
}

Checked<std::string> check_host(std::string_view host, std::string_view field) {
  if (host.find(':') != std::string_view::npos) return check_ip(host, field, false);
  if (host.find('.') == std::string_view::npos) {
    // A single-label name such as "localhost" or a Docker service name.
    auto name = check_domain(std::string(host) + ".x", field);
    if (!name) return refuse(field, host, "is not a host name or IP address");
    return std::string(host);
  }
  return check_domain(host, field);
}

namespace {

// One token of nginx's configuration grammar (ngx_conf_read_token).
struct Token {
  enum Kind { word, semicolon, open, close } kind;
  std::string text;  // word: the value with quotes removed and escapes resolved
  std::size_t line;
};

bool is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

// Mirrors ngx_conf_read_token: '#' starts a comment only where a token could start, a word
// ends at whitespace, ';' or '{' (a '}' inside a word is part of it), a quoted string must be
// followed by whitespace, ';' or '{', and "${" inside a word does not open a block.
Checked<std::vector<Token>> tokenize(std::string_view text, std::string_view field) {
  std::vector<Token> tokens;
  std::size_t line = 1;
  std::size_t i = 0;
  auto unescape = [](std::string_view raw) {
    std::string out;
    for (std::size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '\\' && k + 1 < raw.size()) {
        char n = raw[k + 1];
        if (n == '"' || n == '\'' || n == '\\') {
          out += n;
          ++k;
          continue;
        }
        if (n == 't' || n == 'r' || n == 'n') {
          out += n == 't' ? '\t' : n == 'r' ? '\r' : '\n';
          ++k;
          continue;
        }
      }
      out += raw[k];
    }
    return out;
  };
  while (i < text.size()) {
    char ch = text[i];
    if (ch == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (is_space(ch)) {
      ++i;
      continue;
    }
    if (ch == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (ch == ';' || ch == '{' || ch == '}') {
      tokens.push_back({ch == ';'   ? Token::semicolon
                        : ch == '{' ? Token::open
                                    : Token::close,
                        "", line});
      ++i;
      continue;
    }
    std::size_t start_line = line;
    if (ch == '"' || ch == '\'') {
      char quote = ch;
      std::size_t begin = ++i;
      bool escaped = false;
      while (i < text.size() && (escaped || text[i] != quote)) {
        escaped = !escaped && text[i] == '\\';
        if (text[i] == '\n') ++line;
        ++i;
      }
      if (i >= text.size()) {
        return refuse_line(
            field, start_line,
            std::string("the quoted string starting here is never closed with ") + quote);
      }
      tokens.push_back({Token::word, unescape(text.substr(begin, i - begin)), start_line});
      ++i;
      if (i < text.size() && !is_space(text[i]) && text[i] != ';' && text[i] != '{') {
        return refuse_line(field, line,
                           std::string("unexpected '") + text[i] + "' right after a quoted string");
      }
      continue;
    }
    std::size_t begin = i;
    bool escaped = false;
    bool variable = false;
    while (i < text.size()) {
      char c = text[i];
      if (escaped) {
        escaped = false;
        if (c == '\n') ++line;
        ++i;
        continue;
      }
      if (c == '{' && variable) {
        ++i;
        continue;
      }
      variable = c == '$';
      if (c == '\\') {
        escaped = true;
        ++i;
        continue;
      }
      if (is_space(c) || c == ';' || c == '{') break;
      ++i;
    }
    tokens.push_back({Token::word, unescape(text.substr(begin, i - begin)), start_line});
  }
  return tokens;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The directives an app snippet may use: those that act inside one server block (and the
// `location`, `if` and `limit_except` blocks nested in it), take no file-system path and
// touch no state shared with other servers. Drawn from nginx 1.22's directive reference for
// the modules Debian's nginx is built with (core, access, addition, auth_basic, auth_request,
// browser, charset, empty_gif, fastcgi, grpc, gunzip, gzip, headers, http2, mirror, proxy,
// realip, referer, rewrite, secure_link, slice, ssi, sub, userid) and from this module's
// per-request directives. Left out on purpose: anything serving or writing files (root,
// alias, autoindex, index, dav, mp4, logs, temp and store paths, open_file_cache, ...), TLS
// and listen (the controller's), shared zones and caches (limit_req, limit_conn, proxy_cache,
// captain_status, stub_status), embedded code (perl, js, lua), `types` (its block is not
// directives) and the uwsgi, scgi and memcached families. Sorted: looked up by binary search.
constexpr std::string_view kServerAllowList[] = {
    "absolute_redirect",
    "add_after_body",
    "add_before_body",
    "add_header",
    "add_trailer",
    "addition_types",
    "allow",
    "ancient_browser",
    "ancient_browser_value",
    "auth_basic",
    "auth_delay",
    "auth_request",
    "auth_request_set",
    "break",
    "captain_hide_header",
    "captain_limit_headers",
    "captain_request_id",
    "captain_request_id_format",
    "captain_response_time",
    "captain_security_header",
    "captain_security_headers",
    "captain_trace",
    "captain_trace_sample_rate",
    "charset",
    "charset_types",
    "chunked_transfer_encoding",
    "client_body_buffer_size",
    "client_body_in_single_buffer",
    "client_body_timeout",
    "client_header_buffer_size",
    "client_header_timeout",
    "client_max_body_size",
    "connection_pool_size",
    "default_type",
    "deny",
    "empty_gif",
    "error_page",
    "etag",
    "expires",
    "fastcgi_buffer_size",
    "fastcgi_buffering",
    "fastcgi_buffers",
    "fastcgi_busy_buffers_size",
    "fastcgi_catch_stderr",
    "fastcgi_connect_timeout",
    "fastcgi_force_ranges",
    "fastcgi_hide_header",
    "fastcgi_ignore_client_abort",
    "fastcgi_ignore_headers",
    "fastcgi_index",
    "fastcgi_intercept_errors",
    "fastcgi_keep_conn",
    "fastcgi_limit_rate",
    "fastcgi_max_temp_file_size",
    "fastcgi_next_upstream",
    "fastcgi_next_upstream_timeout",
    "fastcgi_next_upstream_tries",
    "fastcgi_param",
    "fastcgi_pass",
    "fastcgi_pass_header",
    "fastcgi_pass_request_body",
    "fastcgi_pass_request_headers",
    "fastcgi_read_timeout",
    "fastcgi_request_buffering",
    "fastcgi_send_lowat",
    "fastcgi_send_timeout",
    "fastcgi_socket_keepalive",
    "fastcgi_split_path_info",
    "fastcgi_temp_file_write_size",
    "grpc_buffer_size",
    "grpc_connect_timeout",
    "grpc_hide_header",
    "grpc_ignore_headers",
    "grpc_intercept_errors",
    "grpc_next_upstream",
    "grpc_next_upstream_timeout",
    "grpc_next_upstream_tries",
    "grpc_pass",
    "grpc_pass_header",
    "grpc_read_timeout",
    "grpc_send_timeout",
    "grpc_set_header",
    "grpc_socket_keepalive",
    "grpc_ssl_ciphers",
    "grpc_ssl_name",
    "grpc_ssl_protocols",
    "grpc_ssl_server_name",
    "grpc_ssl_session_reuse",
    "grpc_ssl_verify",
    "grpc_ssl_verify_depth",
    "gunzip",
    "gunzip_buffers",
    "gzip",
    "gzip_buffers",
    "gzip_comp_level",
    "gzip_disable",
    "gzip_http_version",
    "gzip_min_length",
    "gzip_proxied",
    "gzip_types",
    "gzip_vary",
    "http2_chunk_size",
    "http2_push",
    "http2_push_preload",
    "if",
    "if_modified_since",
    "ignore_invalid_headers",
    "internal",
    "keepalive_disable",
    "keepalive_requests",
    "keepalive_time",
    "keepalive_timeout",
    "large_client_header_buffers",
    "limit_except",
    "limit_rate",
    "limit_rate_after",
    "lingering_close",
    "lingering_time",
    "lingering_timeout",
    "location",
    "log_not_found",
    "log_subrequest",
    "max_ranges",
    "merge_slashes",
    "mirror",
    "mirror_request_body",
    "modern_browser",
    "modern_browser_value",
    "msie_padding",
    "msie_refresh",
    "override_charset",
    "port_in_redirect",
    "postpone_output",
    "proxy_buffer_size",
    "proxy_buffering",
    "proxy_buffers",
    "proxy_busy_buffers_size",
    "proxy_connect_timeout",
    "proxy_cookie_domain",
    "proxy_cookie_flags",
    "proxy_cookie_path",
    "proxy_force_ranges",
    "proxy_headers_hash_bucket_size",
    "proxy_headers_hash_max_size",
    "proxy_hide_header",
    "proxy_http_version",
    "proxy_ignore_client_abort",
    "proxy_ignore_headers",
    "proxy_intercept_errors",
    "proxy_limit_rate",
    "proxy_max_temp_file_size",
    "proxy_method",
    "proxy_next_upstream",
    "proxy_next_upstream_timeout",
    "proxy_next_upstream_tries",
    "proxy_pass",
    "proxy_pass_header",
    "proxy_pass_request_body",
    "proxy_pass_request_headers",
    "proxy_read_timeout",
    "proxy_redirect",
    "proxy_request_buffering",
    "proxy_send_lowat",
    "proxy_send_timeout",
    "proxy_set_body",
    "proxy_set_header",
    "proxy_socket_keepalive",
    "proxy_ssl_ciphers",
    "proxy_ssl_name",
    "proxy_ssl_protocols",
    "proxy_ssl_server_name",
    "proxy_ssl_session_reuse",
    "proxy_ssl_verify",
    "proxy_ssl_verify_depth",
    "proxy_temp_file_write_size",
    "real_ip_header",
    "real_ip_recursive",
    "recursive_error_pages",
    "referer_hash_bucket_size",
    "referer_hash_max_size",
    "request_pool_size",
    "reset_timedout_connection",
    "return",
    "rewrite",
    "rewrite_log",
    "satisfy",
    "secure_link",
    "secure_link_md5",
    "secure_link_secret",
    "send_lowat",
    "send_timeout",
    "sendfile",
    "server_name_in_redirect",
    "server_tokens",
    "set",
    "set_real_ip_from",
    "slice",
    "source_charset",
    "ssi",
    "ssi_last_modified",
    "ssi_min_file_chunk",
    "ssi_silent_errors",
    "ssi_types",
    "ssi_value_length",
    "sub_filter",
    "sub_filter_last_modified",
    "sub_filter_once",
    "sub_filter_types",
    "subrequest_output_buffer_size",
    "tcp_nodelay",
    "tcp_nopush",
    "try_files",
    "underscores_in_headers",
    "uninitialized_variable_warn",
    "userid",
    "userid_domain",
    "userid_expires",
    "userid_flags",
    "userid_mark",
    "userid_name",
    "userid_p3p",
    "userid_path",
    "userid_service",
    "valid_referers",
};
static_assert(std::is_sorted(std::begin(kServerAllowList), std::end(kServerAllowList)));
static_assert(std::adjacent_find(std::begin(kServerAllowList), std::end(kServerAllowList)) ==
              std::end(kServerAllowList));

// The allowed directives that open a block; every other one must end with ';'.
constexpr std::string_view kServerBlocks[] = {"if", "limit_except", "location"};

// Directives an app snippet may use only to turn something off: any other argument names a
// file or a zone shared with other apps.
struct OffOnly {
  std::string_view name;
  std::string_view why;
};
constexpr OffOnly kServerOffOnly[] = {
    {"access_log", "a log path is a file on the host"},
    {"captain_cache",
     "the cache zone is shared between apps (the app's \"cache\" setting applies it)"},
    {"captain_limit",
     "rate-limit zones are shared between apps (the app's \"rateLimit\" setting applies its own)"},
    {"captain_metrics",
     "the metrics zone is shared between apps (each app is counted under its own name)"},
};

// Why a directive is refused, for the well-known ones: `pattern` is a name, "prefix*",
// "*suffix" or "*infix*". The first match wins; a name matching none gets the general reason.
struct Refusal {
  std::string_view pattern;
  std::string_view why;
};

constexpr std::string_view kFiles = "it reads or writes files on the host";
constexpr std::string_view kShared = "it uses or exposes state shared with other apps";
constexpr std::string_view kCode = "it runs embedded code inside nginx";

constexpr Refusal kServerRefusals[] = {
    {"captain_status",
     "it exposes the module's metrics and cache purge for every app (served only on the "
     "controller's /metrics)"},
    {"captain_status_token",
     "it belongs to the module's metrics and cache-purge endpoint (served only on the "
     "controller's /metrics)"},
    {"stub_status", "it exposes nginx's connection counts for every app"},
    {"listen", "the controller owns the server's addresses and ports"},
    {"*_certificate", kFiles},
    {"*_certificate_key", kFiles},
    {"*_trusted_certificate", kFiles},
    {"*_client_certificate", kFiles},
    {"*_crl", kFiles},
    {"*_password_file", kFiles},
    {"*_dhparam", kFiles},
    {"*_stapling_file", kFiles},
    {"*_session_ticket_key", kFiles},
    {"*_conf_command", "it passes commands to OpenSSL, which can load files on the host"},
    {"ssl*", "TLS is configured by the controller from the app's certificates"},
    {"root", kFiles},
    {"alias", kFiles},
    {"autoindex*", kFiles},
    {"index", kFiles},
    {"random_index", kFiles},
    {"error_log", kFiles},
    {"open_log_file_cache", kFiles},
    {"open_file_cache*", kFiles},
    {"*_temp_path", kFiles},
    {"client_body_in_file_only", kFiles},
    {"*_store", kFiles},
    {"*_store_access", kFiles},
    {"auth_basic_user_file", kFiles},
    {"dav_*", kFiles},
    {"create_full_put_path", kFiles},
    {"min_delete_depth", kFiles},
    {"xslt_*", kFiles},
    {"mp4*", kFiles},
    {"flv", kFiles},
    {"gzip_static", kFiles},
    {"disable_symlinks", kFiles},
    {"directio*", kFiles},
    {"aio*", kFiles},
    {"read_ahead", kFiles},
    {"*_cache", kShared},
    {"*_cache_*", kShared},
    {"limit_req*", kShared},
    {"limit_conn*", kShared},
    {"perl*", kCode},
    {"js_*", kCode},
    {"*lua*", kCode},
};

// The http-level override is the operator's own file, so far looser: only what would make
// nginx (root while it runs `nginx -t`) create or load files the controller owns, or run code.
constexpr Refusal kHttpRefusals[] = {
    {"*_temp_path",
     "it makes nginx create directories as root; temp paths are the controller's "
     "(nginx_temp_dir)"},
    {"ssl_certificate*", "certificates are the controller's (the SSL endpoints)"},
    {"perl*", kCode},
    {"js_*", kCode},
    {"*lua*", kCode},
};

bool matches(std::string_view pattern, std::string_view name) {
  const bool head = pattern.starts_with('*');
  const bool tail = pattern.size() > 1 && pattern.ends_with('*');
  std::string_view core = pattern.substr(head ? 1 : 0);
  core = core.substr(0, core.size() - (tail ? 1 : 0));
  if (head && tail) return name.find(core) != std::string_view::npos;
  if (head) return ends_with(name, core);
  if (tail) return name.starts_with(core);
  return name == core;
}

template <std::size_t N>
std::string_view reason(const Refusal (&rules)[N], std::string_view name) {
  for (const Refusal& r : rules) {
    if (matches(r.pattern, name)) return r.why;
  }
  return {};
}

template <std::size_t N>
bool contains(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

// A directive as the snippet's tokens give it: name first, then its arguments.
using Words = std::vector<const Token*>;

// The first operand of an `if` condition, with its '(' removed, as nginx reads it.
std::string_view if_operand(const Words& args) {
  if (args.size() < 2) return {};
  std::string_view first = args[1]->text;
  if (first == "(") return args.size() > 2 ? std::string_view(args[2]->text) : std::string_view();
  if (first.starts_with('(')) first.remove_prefix(1);
  return first;
}

// A ".." path segment: a URI built from it (rewrite, try_files, error_page, set, ...) reaches
// files outside the document root, since nginx does not normalize URIs it builds itself. Only
// `return` is exempt: its URL or text goes to the client. (A ".." arriving through a variable
// such as $arg_x is not seen here.)
bool has_dot_dot_segment(std::string_view arg) {
  std::size_t start = 0;
  while (start <= arg.size()) {
    std::size_t slash = arg.find('/', start);
    if (slash == std::string_view::npos) slash = arg.size();
    if (arg.substr(start, slash - start) == "..") return true;
    start = slash + 1;
  }
  return false;
}

// Why the directive `args` (ending with '{' when `opens_block`) may not appear in a snippet
// of this context, or "" when it may.
std::string forbidden(const Words& args, bool opens_block, SnippetContext context) {
  const std::string& name = args.front()->text;
  static constexpr std::string_view kAnywhere[] = {
      "include", "load_module", "http", "events", "stream", "mail",
      // main context only
      "user", "worker_processes", "worker_rlimit_nofile", "worker_connections", "pid", "daemon",
      "master_process", "env", "lock_file", "pcre_jit", "thread_pool", "timer_resolution",
      "working_directory", "worker_priority", "worker_cpu_affinity", "worker_shutdown_timeout",
      "worker_rlimit_core", "ssl_engine", "debug_points"};
  if (contains(kAnywhere, name)) {
    if (name == "include")
      return "\"include\" is not allowed: a snippet cannot pull in other files";
    if (name == "load_module")
      return "\"load_module\" is not allowed: modules are loaded by nginx.conf";
    return "\"" + name + "\" is a main-context directive and is not allowed in a snippet";
  }
  if (context == SnippetContext::http) {
    if (std::string_view why = reason(kHttpRefusals, name); !why.empty()) {
      return shown(name) + " is not allowed in the http-level override: " + std::string(why);
    }
    return "";
  }

  static constexpr std::string_view kHttpOnly[] = {"server",
                                                   "upstream",
                                                   "map",
                                                   "geo",
                                                   "split_clients",
                                                   "log_format",
                                                   "server_names_hash_max_size",
                                                   "server_names_hash_bucket_size",
                                                   "variables_hash_max_size",
                                                   "variables_hash_bucket_size",
                                                   "map_hash_max_size",
                                                   "map_hash_bucket_size",
                                                   "perl_modules",
                                                   "perl_require",
                                                   "js_import",
                                                   "js_path"};
  if (name == "server_name") {
    return "\"server_name\" is not allowed: the app's server names come from its domains";
  }
  if (contains(kHttpOnly, name)) {
    return "\"" + name + "\" is an http-level directive and is not allowed in an app snippet";
  }
  if (ends_with(name, "_zone") || ends_with(name, "_cache_path")) {
    return "\"" + name +
           "\" defines shared state at http level and is not allowed in an app snippet";
  }
  for (const OffOnly& o : kServerOffOnly) {
    if (name != o.name) continue;
    if (args.size() == 2 && args[1]->text == "off" && !opens_block) return "";
    return "\"" + name + "\" is allowed in an app snippet only as \"" + name +
           " off\": " + std::string(o.why);
  }
  if (!std::binary_search(std::begin(kServerAllowList), std::end(kServerAllowList),
                          std::string_view(name))) {
    std::string_view why = reason(kServerRefusals, name);
    if (why.empty()) {
      why =
          "it is not on the allow-list of directives that act inside the server block and "
          "take no file-system path";
    }
    return shown(name) + " is not allowed in an app snippet: " + std::string(why);
  }
  if (opens_block != contains(kServerBlocks, name)) {
    return opens_block ? "\"" + name + "\" takes no block" : "\"" + name + "\" needs a block";
  }
  if (name == "proxy_pass" || name == "fastcgi_pass" || name == "grpc_pass") {
    for (std::size_t k = 1; k < args.size(); ++k) {
      if (args[k]->text.find("unix:") != std::string::npos) {
        return "\"" + name + "\" to a unix socket is not allowed in an app snippet: the socket " +
               "is a path on the host";
      }
    }
  }
  if (name == "if") {
    static constexpr std::string_view kFileTests[] = {"-f", "!-f", "-d", "!-d",
                                                      "-e", "!-e", "-x", "!-x"};
    if (std::string_view op = if_operand(args); contains(kFileTests, op)) {
      return "\"if (" + std::string(op) +
             " ...)\" is not allowed in an app snippet: it tests a path on the host";
    }
  }
  for (std::size_t k = 1; k < args.size() && name != "return"; ++k) {
    if (has_dot_dot_segment(args[k]->text)) {
      return "\"" + name + "\" argument " + shown(args[k]->text) +
             " is not allowed in an app snippet: a \"..\" segment reaches outside the document "
             "root";
    }
  }
  return "";
}

}  // namespace

Checked<std::string> check_snippet(std::string_view text, SnippetContext context,
                                   std::string_view field) {
  if (text.size() > kMaxSnippetBytes) {
    return Unexpected(TextError{
        std::string(field), 0,
        std::string(field) + " is longer than " + std::to_string(kMaxSnippetBytes) + " bytes"});
  }
  {
    std::size_t line = 1;
    for (char c : text) {
      auto u = static_cast<unsigned char>(c);
      if (c == '\n') ++line;
      if ((u < 0x20 && c != '\n' && c != '\t' && c != '\r') || u == 0x7f) {
        return refuse_line(field, line,
                           "control character (byte " + std::to_string(u) + ") is not allowed");
      }
    }
  }
  auto tokens = tokenize(text, field);
  if (!tokens) return Unexpected(tokens.error());

  std::vector<std::size_t> open_lines;  // line of each unclosed '{'
  Words args;                           // words of the current directive
  for (const Token& t : *tokens) {
    switch (t.kind) {
      case Token::word:
        args.push_back(&t);
        break;
      case Token::semicolon:
      case Token::open: {
        const char* what = t.kind == Token::semicolon ? "';'" : "'{'";
        if (args.empty()) return refuse_line(field, t.line, std::string("unexpected ") + what);
        if (std::string why = forbidden(args, t.kind == Token::open, context); !why.empty()) {
          return refuse_line(field, args.front()->line, why);
        }
        const std::string& name = args.front()->text;
        if (context == SnippetContext::server && name == "location" && open_lines.empty()) {
          std::vector<std::string> rest;
          for (std::size_t k = 1; k < args.size(); ++k) rest.push_back(args[k]->text);
          bool root = rest == std::vector<std::string>{"/"};
          bool acme = rest.size() == 2 && rest[1].starts_with("/.well-known/acme-challenge");
          if (root || acme) {
            return refuse_line(field, args.front()->line,
                               std::string("\"location ") + (root ? "/" : rest[0] + " " + rest[1]) +
                                   "\" is generated by the controller and cannot be redefined");
          }
        }
        if (t.kind == Token::open) open_lines.push_back(t.line);
        args.clear();
        break;
      }
      case Token::close:
        if (!args.empty()) {
          return refuse_line(field, args.front()->line,
                             "directive \"" + args.front()->text + "\" is missing its ';'");
        }
        if (open_lines.empty()) {
          return refuse_line(field, t.line, "unbalanced '}': there is no '{' for it to close");
        }
        open_lines.pop_back();
        break;
    }
  }
  if (!args.empty()) {
    return refuse_line(field, args.front()->line,
                       "directive \"" + args.front()->text + "\" is missing its ';'");
  }
  if (!open_lines.empty()) {
    return refuse_line(field, open_lines.back(), "this '{' is never closed");
  }
  return std::string(text);
}

}  // namespace captain::nginx
