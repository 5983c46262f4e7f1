#include "controller/nginx/nginx_text.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <vector>

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

// 1..1000000 as digits; advances i.
bool read_count(std::string_view text, std::size_t& i) {
  std::size_t start = i;
  std::uint32_t n = 0;
  while (i < text.size() && is_digit(text[i]) && i - start < 7) {
    n = n * 10 + static_cast<std::uint32_t>(text[i] - '0');
    ++i;
  }
  if (i < text.size() && is_digit(text[i])) return false;
  return i > start && n >= 1 && n <= 1000000;
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
  auto bad = [&] {
    return refuse(field, rate, "must look like \"10r/s\" or \"100r/5m\" (unit ms, s, m, h or d)");
  };
  std::size_t i = 0;
  if (!read_count(rate, i)) return bad();
  if (rate.substr(i, 2) != "r/") return bad();
  i += 2;
  if (i < rate.size() && is_digit(rate[i]) && !read_count(rate, i)) return bad();
  std::string_view unit = rate.substr(i);
  if (unit != "ms" && unit != "s" && unit != "m" && unit != "h" && unit != "d") return bad();
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

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Why `name` may not appear in a snippet of this context, or "" when it may.
std::string forbidden(const std::string& name, SnippetContext context) {
  static constexpr std::string_view kAnywhere[] = {
      "include", "load_module", "http", "events", "stream", "mail",
      // main context only
      "user", "worker_processes", "worker_rlimit_nofile", "worker_connections", "pid", "daemon",
      "master_process", "env", "lock_file", "pcre_jit", "thread_pool", "timer_resolution",
      "working_directory", "worker_priority", "worker_cpu_affinity", "worker_shutdown_timeout",
      "worker_rlimit_core", "ssl_engine", "debug_points"};
  for (std::string_view n : kAnywhere) {
    if (name == n) {
      if (name == "include")
        return "\"include\" is not allowed: a snippet cannot pull in other files";
      if (name == "load_module")
        return "\"load_module\" is not allowed: modules are loaded by nginx.conf";
      return "\"" + name + "\" is a main-context directive and is not allowed in a snippet";
    }
  }
  if (context == SnippetContext::http) return "";
  static constexpr std::string_view kHttpOnly[] = {"server",
                                                   "upstream",
                                                   "map",
                                                   "geo",
                                                   "split_clients",
                                                   "log_format",
                                                   "server_name",
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
  for (std::string_view n : kHttpOnly) {
    if (name == n) {
      if (name == "server_name") {
        return "\"server_name\" is not allowed: the app's server names come from its domains";
      }
      return "\"" + name + "\" is an http-level directive and is not allowed in an app snippet";
    }
  }
  if (ends_with(name, "_zone") || ends_with(name, "_cache_path")) {
    return "\"" + name +
           "\" defines shared state at http level and is not allowed in an app snippet";
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
  std::vector<const Token*> args;       // words of the current directive
  for (const Token& t : *tokens) {
    switch (t.kind) {
      case Token::word:
        args.push_back(&t);
        break;
      case Token::semicolon:
      case Token::open: {
        const char* what = t.kind == Token::semicolon ? "';'" : "'{'";
        if (args.empty()) return refuse_line(field, t.line, std::string("unexpected ") + what);
        std::string name = lower(args.front()->text);
        if (std::string why = forbidden(name, context); !why.empty()) {
          return refuse_line(field, args.front()->line, why);
        }
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
