// Request shapes the listener refuses with 400 before anything else reads them: the ones a proxy
// in front may read differently (request smuggling, RFC 9112 §6.3 and §11.2) and obsolete syntax
// RFC 9112 lets a server reject. The parser (Boost.Beast) already refuses Content-Length with
// Transfer-Encoding and conflicting Content-Lengths; these are the rest.
#pragma once

#include <string>
#include <string_view>

#include "controller/http/message.h"

namespace captain::http {

// The raw header block (request line to the blank line): obs-fold (a field line starting with
// a space or tab, §5.2) and a bare LF are refused. Empty when acceptable, else why not.
std::string raw_header_problem(std::string_view header_block);

// The parsed fields: more than one Content-Length field (even with equal values), a
// Transfer-Encoding other than exactly "chunked" (a request body's length would be unknown,
// §6.3), and Transfer-Encoding on HTTP/1.0. Empty when acceptable.
std::string field_problem(const Headers& headers, unsigned version);

}  // namespace captain::http
