// Reading and editing nginx header lists (ngx_list_t of ngx_table_elt_t).
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// A header name with the lowercase form and hash nginx matches request headers by (the proxy
// module looks incoming headers up in its proxy_set_header hash with these).
struct HeaderName {
  ngx_str_t name;
  ngx_str_t lowcase;
  ngx_uint_t hash;
};

HeaderName make_header_name(const ngx_str_t& name, const char* lowcase) noexcept;

// Header names compare case-insensitively.
bool same_header_name(const ngx_str_t& a, const ngx_str_t& b) noexcept;

inline bool header_is(const ngx_table_elt_t& h, const ngx_str_t& name) noexcept {
  return same_header_name(h.key, name);
}

// Calls visit(element) for every element of the list, in order.
template <typename Visit>
void for_each_header(ngx_list_t* list, Visit visit) {
  for (ngx_list_part_t* part = &list->part; part != nullptr; part = part->next) {
    auto* elts = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i) visit(elts[i]);
  }
}

// Makes the request carry exactly one `name` header with `value` (none when value is empty):
// the first existing one is rewritten in place, further ones are removed (list_removal.h). Returns
// NGX_ERROR only when the pool is exhausted.
ngx_int_t set_request_header(ngx_http_request_t* r, const HeaderName& name,
                             ngx_str_t value) noexcept;

// Like set_request_header, for a header whose incoming copies are already known: one copy is
// rewritten in place and none is pushed without walking the list; duplicates take the walk.
ngx_int_t replace_request_header(ngx_http_request_t* r, const HeaderName& name,
                                 ngx_table_elt_t* first, ngx_uint_t count,
                                 ngx_str_t value) noexcept;

// Appends copies of `count` headers to the response, taking the slots in one go when the list's
// last part has room for all of them (the slots count ngx_list_push calls would hand out).
ngx_int_t append_response_headers(ngx_http_request_t* r, const ngx_table_elt_t* headers,
                                  ngx_uint_t count) noexcept;

// Appends a response header.
ngx_table_elt_t* push_response_header(ngx_http_request_t* r, ngx_str_t name,
                                      ngx_str_t value) noexcept;

}  // namespace captain::glue
