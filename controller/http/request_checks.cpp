#include "controller/http/request_checks.h"

namespace captain::http {

std::string raw_header_problem(std::string_view block) {
  std::size_t line_start = 0;
  bool first = true;
  for (std::size_t i = 0; i < block.size(); ++i) {
    if (block[i] != '\n') continue;
    if (i == 0 || block[i - 1] != '\r') return "bare LF in the request header";
    if (!first && i > line_start) {
      const char c = block[line_start];
      if (c == ' ' || c == '\t') return "obsolete line folding (obs-fold) in a header field";
    }
    first = false;
    line_start = i + 1;
  }
  return {};
}

std::string field_problem(const Headers& headers, unsigned version) {
  if (headers.count("Content-Length") > 1) return "more than one Content-Length field";
  if (headers.has("Transfer-Encoding")) {
    if (version < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    if (headers.count("Transfer-Encoding") > 1 ||
        !iequals(headers.get("Transfer-Encoding"), "chunked")) {
      return "a Transfer-Encoding other than chunked";
    }
  }
  return {};
}

}  // namespace captain::http
