#include "ngx_module/glue/header_list.h"

#include "ngx_module/core/list_removal.h"

namespace captain::glue {

HeaderName make_header_name(const char* name, const char* lowcase) noexcept {
  HeaderName h;
  h.name = to_ngx_str(name, ngx_strlen(name));
  h.lowcase = to_ngx_str(lowcase, ngx_strlen(lowcase));
  h.hash = ngx_hash_key(h.lowcase.data, h.lowcase.len);
  return h;
}

bool same_header_name(const ngx_str_t& a, const ngx_str_t& b) noexcept {
  return a.len == b.len && ngx_strncasecmp(a.data, b.data, b.len) == 0;
}

ngx_int_t set_request_header(ngx_http_request_t* r, const HeaderName& name,
                             ngx_str_t value) noexcept {
  ngx_list_t* list = &r->headers_in.headers;
  ngx_table_elt_t* kept = nullptr;
  auto allocate = [list](std::size_t bytes) { return ngx_palloc(list->pool, bytes); };

  ListCursor<ngx_list_part_t> at{nullptr, &list->part, 0};
  while (at.part != nullptr) {
    if (at.index >= at.part->nelts) {
      at = {at.part, at.part->next, 0};
      continue;
    }
    ngx_table_elt_t& h = static_cast<ngx_table_elt_t*>(at.part->elts)[at.index];
    if (!header_is(h, name.name)) {
      ++at.index;
      continue;
    }
    if (kept == nullptr && value.len != 0) {
      kept = &h;
      kept->value = value;
      ++at.index;
      continue;
    }
    // A duplicate, or a header to drop: removed without moving any other header.
    if (!remove_list_element(*list, at.prev, at.part, at.index, allocate, &at)) return NGX_ERROR;
  }

  if (kept != nullptr || value.len == 0) return NGX_OK;

  if (list->pool == nullptr && ngx_list_init(list, r->pool, 4, sizeof(ngx_table_elt_t)) != NGX_OK) {
    return NGX_ERROR;
  }
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(list));
  if (h == nullptr) return NGX_ERROR;
  ngx_memzero(h, sizeof(ngx_table_elt_t));
  h->hash = name.hash;
  h->key = name.name;
  h->lowcase_key = name.lowcase.data;
  h->value = value;
  return NGX_OK;
}

ngx_table_elt_t* push_response_header(ngx_http_request_t* r, ngx_str_t name,
                                      ngx_str_t value) noexcept {
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
  if (h == nullptr) return nullptr;
  ngx_memzero(h, sizeof(ngx_table_elt_t));
  h->hash = 1;
  h->key = name;
  h->value = value;
  return h;
}

}  // namespace captain::glue
