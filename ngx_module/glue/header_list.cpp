#include "ngx_module/glue/header_list.h"

#include "ngx_module/core/list_removal.h"

namespace captain::glue {

HeaderName make_header_name(const ngx_str_t& name, const char* lowcase) noexcept {
  HeaderName h;
  h.name = name;
  h.lowcase = to_ngx_str(lowcase, ngx_strlen(lowcase));
  h.hash = ngx_hash_key(h.lowcase.data, h.lowcase.len);
  return h;
}

bool same_header_name(const ngx_str_t& a, const ngx_str_t& b) noexcept {
  return a.len == b.len && ngx_strncasecmp(a.data, b.data, b.len) == 0;
}

namespace {

ngx_int_t push_request_header(ngx_http_request_t* r, const HeaderName& name,
                              ngx_str_t value) noexcept {
  ngx_list_t* list = &r->headers_in.headers;
  if (list->pool == nullptr && ngx_list_init(list, r->pool, 4, sizeof(ngx_table_elt_t)) != NGX_OK) {
    return NGX_ERROR;
  }
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(list));
  if (h == nullptr) return NGX_ERROR;
  *h = ngx_table_elt_t{};
  h->hash = name.hash;
  h->key = name.name;
  h->lowcase_key = name.lowcase.data;
  h->value = value;
  return NGX_OK;
}

}  // namespace

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
  return push_request_header(r, name, value);
}

ngx_int_t replace_request_header(ngx_http_request_t* r, const HeaderName& name,
                                 ngx_table_elt_t* first, ngx_uint_t count,
                                 ngx_str_t value) noexcept {
  if (count == 0) return value.len == 0 ? NGX_OK : push_request_header(r, name, value);
  if (count == 1 && value.len != 0) {
    first->value = value;
    return NGX_OK;
  }
  return set_request_header(r, name, value);
}

ngx_int_t append_response_headers(ngx_http_request_t* r, const ngx_table_elt_t* headers,
                                  ngx_uint_t count) noexcept {
  ngx_list_t* list = &r->headers_out.headers;
  ngx_list_part_t* last = list->last;
  if (last->nelts + count <= list->nalloc) {
    ngx_memcpy(static_cast<ngx_table_elt_t*>(last->elts) + last->nelts, headers,
               count * sizeof(ngx_table_elt_t));
    last->nelts += count;
    return NGX_OK;
  }
  for (ngx_uint_t i = 0; i < count; ++i) {
    auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(list));
    if (h == nullptr) return NGX_ERROR;
    *h = headers[i];
  }
  return NGX_OK;
}

ngx_table_elt_t* push_response_header(ngx_http_request_t* r, ngx_str_t name,
                                      ngx_str_t value) noexcept {
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
  if (h == nullptr) return nullptr;
  *h = ngx_table_elt_t{};
  h->hash = 1;
  h->key = name;
  h->value = value;
  return h;
}

}  // namespace captain::glue
