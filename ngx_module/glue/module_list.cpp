// The symbols nginx's load_module looks up in a dynamic module. nginx's own build generates
// this file (objs/ngx_http_captain_module_modules.c); the CMake build provides it here, so it
// is not listed in ngx_module/config.
#include "ngx_module/glue/ngx.h"

extern "C" {

__attribute__((visibility("default"))) ngx_module_t* ngx_modules[] = {
    &ngx_http_captain_module,
    nullptr,
};

__attribute__((visibility("default"))) char* ngx_module_names[] = {
    const_cast<char*>("ngx_http_captain_module"),
    nullptr,
};

// Our header filter goes right below add_header's (ngx_http_headers_filter_module): it sees
// and can override headers add_header set, and runs before the HTTP/2 and chunked filters that
// serialize the response head. Same order as ngx_module_order in ngx_module/config.
__attribute__((visibility("default"))) char* ngx_module_order[] = {
    const_cast<char*>("ngx_http_captain_module"),
    const_cast<char*>("ngx_http_headers_filter_module"),
    nullptr,
};
}
