// The nginx C API for our C++ glue: nginx headers are C, so they are included with C linkage
// in exactly one place.
#pragma once

extern "C" {
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
}

#include <string_view>

namespace captain::glue {

inline std::string_view to_view(const ngx_str_t& s) noexcept {
  return {reinterpret_cast<const char*>(s.data), s.len};
}

inline ngx_str_t to_ngx_str(const char* data, std::size_t len) noexcept {
  return ngx_str_t{len, reinterpret_cast<u_char*>(const_cast<char*>(data))};
}

}  // namespace captain::glue

extern "C" ngx_module_t ngx_http_captain_module;
