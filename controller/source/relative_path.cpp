#include "controller/source/relative_path.h"

#include <cstdio>

namespace captain::source {

Expected<std::string, std::string> normalise_relative_path(std::string_view path) {
  if (!path.empty() && path.front() == '/') return Unexpected(std::string("is an absolute path"));
  std::string out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return Unexpected(std::string(R"(leaves the source directory (".."))"));
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace captain::source
