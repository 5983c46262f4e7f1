// Directive handlers that need more than nginx's stock slot setters: each validates its
// arguments at configuration time and names the directive and the bad token on error.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

char* set_request_id_format(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_trace_sample_rate(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* add_security_header(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* add_hide_header(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

}  // namespace captain::glue
