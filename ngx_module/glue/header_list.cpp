#include "ngx_module/glue/header_list.h"

namespace captain::glue {

namespace {

// Removes element `index` of `part` without moving any element: other modules hold pointers
// into the request's header list (r->headers_in.host and friends), so the part is split around
// the element instead of compacting it. ngx_list_push assumes the last part has room for
// `nalloc` elements from its start; a tail split off the last part does not, so a fresh part
// becomes the last one. Removal is rare (duplicate or forged headers), the extra part is small.
bool remove_element(ngx_list_t* list, ngx_list_part_t* part, ngx_uint_t index) noexcept {
  const ngx_uint_t tail = part->nelts - index - 1;
  part->nelts = index;
  if (tail == 0) return true;

  auto* rest = static_cast<ngx_list_part_t*>(ngx_palloc(list->pool, sizeof(ngx_list_part_t)));
  if (rest == nullptr) return false;
  rest->elts = static_cast<char*>(part->elts) + (index + 1) * list->size;
  rest->nelts = tail;
  rest->next = part->next;
  part->next = rest;

  if (list->last == part) {
    auto* fresh = static_cast<ngx_list_part_t*>(ngx_palloc(list->pool, sizeof(ngx_list_part_t)));
    if (fresh == nullptr) return false;
    fresh->elts = ngx_palloc(list->pool, list->nalloc * list->size);
    if (fresh->elts == nullptr) return false;
    fresh->nelts = 0;
    fresh->next = nullptr;
    rest->next = fresh;
    list->last = fresh;
  }
  return true;
}

}  // namespace

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

  for (ngx_list_part_t* part = &list->part; part != nullptr; part = part->next) {
    auto* elts = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i) {
      if (!header_is(elts[i], name.name)) continue;
      if (kept == nullptr && value.len != 0) {
        kept = &elts[i];
        kept->value = value;
        continue;
      }
      // The elements after i now sit in part->next; the outer loop continues there.
      if (!remove_element(list, part, i)) return NGX_ERROR;
      break;
    }
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
