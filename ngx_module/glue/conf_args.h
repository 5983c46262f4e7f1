// Helpers for directive handlers: reading key=value arguments and reporting a bad token the
// way every captain directive does ("invalid <what> \"<token>\" in \"<directive>\" directive,
// ...").
#pragma once

#include <string_view>

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

inline char* conf_error() noexcept {
  return static_cast<char*>(NGX_CONF_ERROR);
}

inline char* invalid_token(ngx_conf_t* cf, ngx_command_t* cmd, const char* what,
                           const ngx_str_t& token, const char* reason) noexcept {
  ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %s \"%V\" in \"%V\" directive, %s", what,
                     &token, &cmd->name, reason);
  return conf_error();
}

inline bool starts_with(const ngx_str_t& s, std::string_view prefix) noexcept {
  return to_view(s).substr(0, prefix.size()) == prefix;
}

// The value of a "key=value" argument whose "key=" is prefix_len bytes long.
inline ngx_str_t value_after(const ngx_str_t& s, std::size_t prefix_len) noexcept {
  return ngx_str_t{s.len - prefix_len, s.data + prefix_len};
}

}  // namespace captain::glue
