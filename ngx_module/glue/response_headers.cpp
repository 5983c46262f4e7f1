#include "ngx_module/glue/response_headers.h"

#include <cstdint>

#include "ngx_module/glue/header_list.h"
#include "ngx_module/glue/header_names.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/request_ctx.h"
#include "ngx_module/glue/request_phase.h"

namespace captain::glue {

namespace {

ngx_http_output_header_filter_pt g_next_header_filter;

// A header this filter puts on the response, and whether the response already had one.
struct Wanted {
  ngx_str_t name;
  ngx_str_t value;
  bool found;
};

bool over_tls(ngx_http_request_t* r) noexcept {
#if (NGX_SSL || NGX_COMPAT)
  return r->connection->ssl != nullptr;
#else
  return false;
#endif
}

ngx_str_t response_time_value(ngx_http_request_t* r) noexcept {
  std::uint64_t ms = request_elapsed_ms(r);

  // "<digits>ms", written right to left into the end of the buffer (ngx_sprintf's general
  // formatter costs more than the rest of this filter).
  constexpr size_t kSize = NGX_INT64_LEN + 2;
  auto* buf = static_cast<u_char*>(ngx_pnalloc(r->pool, kSize));
  if (buf == nullptr) return ngx_str_t{0, nullptr};
  u_char* end = buf + kSize;
  u_char* p = end;
  *--p = 's';
  *--p = 'm';
  do {
    *--p = static_cast<u_char>('0' + ms % 10);
    ms /= 10;
  } while (ms != 0);
  return ngx_str_t{static_cast<size_t>(end - p), p};
}

// Rewrites the first header of the response matching a wanted one and drops the duplicates,
// so the client sees one value; headers the policy hides are dropped. hash = 0 is nginx's
// "deleted" mark: the HTTP/1 and HTTP/2 writers skip such headers.
void edit_existing(ngx_list_t* headers, Wanted* wanted, ngx_uint_t wanted_count,
                   const CompiledPolicy* policy, std::uint64_t* policy_found) noexcept {
  for_each_header(headers, [&](ngx_table_elt_t& h) {
    if (h.hash == 0) return;

    for (ngx_uint_t i = 0; i < wanted_count; ++i) {
      Wanted& w = wanted[i];
      if (!header_is(h, w.name)) continue;
      if (!w.found) {
        w.found = true;
        h.value = w.value;
      } else {
        h.hash = 0;
      }
      return;
    }

    if (policy == nullptr) return;
    for (ngx_uint_t i = 0; i < policy->count; ++i) {
      const PolicyHeader& p = policy->entries[i];
      if (!header_is(h, p.name)) continue;
      const std::uint64_t bit = std::uint64_t{1} << i;
      if (p.hide) {
        h.hash = 0;
      } else if (p.if_absent) {
        *policy_found |= bit;
      } else if (!(*policy_found & bit)) {
        *policy_found |= bit;
        h.key = p.name;
        h.value = p.value;
      } else {
        h.hash = 0;
      }
      return;
    }
  });
}

// nginx writes its own Server header unless headers_out.server points at a header; pointing it
// at a deleted one suppresses it.
ngx_int_t suppress_server_header(ngx_http_request_t* r) noexcept {
  ngx_table_elt_t* h = push_response_header(r, kServerHeader, ngx_str_t{0, nullptr});
  if (h == nullptr) return NGX_ERROR;
  h->hash = 0;
  r->headers_out.server = h;
  return NGX_OK;
}

ngx_int_t add_policy_headers(ngx_http_request_t* r, const CompiledPolicy* policy,
                             std::uint64_t found) noexcept {
  if (policy->hides_server && r->headers_out.server == nullptr &&
      suppress_server_header(r) != NGX_OK) {
    return NGX_ERROR;
  }

  const bool tls = over_tls(r);
  if (found == 0) {
    const HeaderBlock& block = tls ? policy->tls : policy->plain;
    return append_response_headers(r, block.elts, block.count);
  }
  for (ngx_uint_t i = 0; i < policy->count; ++i) {
    const PolicyHeader& p = policy->entries[i];
    if (p.hide || (found & (std::uint64_t{1} << i)) || (p.tls_only && !tls)) continue;
    if (push_response_header(r, p.name, p.value) == nullptr) return NGX_ERROR;
  }
  return NGX_OK;
}

ngx_int_t captain_header_filter(ngx_http_request_t* r) noexcept {
  if (r != r->main) return g_next_header_filter(r);

  const LocConf* lcf = loc_conf(r);
  const CompiledPolicy* policy =
      lcf->security_headers && lcf->policy != nullptr && lcf->policy->count != 0 ? lcf->policy
                                                                                 : nullptr;
  if (!lcf->request_id && !lcf->trace && !lcf->response_time && policy == nullptr) {
    return g_next_header_filter(r);
  }

  Wanted wanted[3];
  ngx_uint_t wanted_count = 0;

  if (lcf->request_id || lcf->trace) {
    RequestCtx* ctx = request_ctx(r);
    if (ctx == nullptr) return NGX_ERROR;
    if (lcf->request_id) {
      wanted[wanted_count++] = Wanted{kRequestIdHeader, *ensure_request_id(r, ctx), false};
    }
    if (lcf->trace) {
      if (!ensure_trace(r, ctx)) return NGX_ERROR;
      wanted[wanted_count++] =
          Wanted{kTraceparentHeader, to_ngx_str(ctx->traceparent, sizeof(ctx->traceparent)), false};
    }
  }
  if (lcf->response_time) {
    const ngx_str_t value = response_time_value(r);
    if (value.data == nullptr) return NGX_ERROR;
    wanted[wanted_count++] = Wanted{kResponseTimeHeader, value, false};
  }

  std::uint64_t policy_found = 0;
  edit_existing(&r->headers_out.headers, wanted, wanted_count, policy, &policy_found);

  ngx_table_elt_t added[3];
  ngx_uint_t added_count = 0;
  for (ngx_uint_t i = 0; i < wanted_count; ++i) {
    if (wanted[i].found) continue;
    ngx_table_elt_t& h = added[added_count++];
    h = ngx_table_elt_t{};
    h.hash = 1;
    h.key = wanted[i].name;
    h.value = wanted[i].value;
  }
  if (append_response_headers(r, added, added_count) != NGX_OK) return NGX_ERROR;
  if (policy != nullptr && add_policy_headers(r, policy, policy_found) != NGX_OK) {
    return NGX_ERROR;
  }
  return g_next_header_filter(r);
}

}  // namespace

ngx_int_t init_response_headers(ngx_conf_t*) noexcept {
  g_next_header_filter = ngx_http_top_header_filter;
  ngx_http_top_header_filter = captain_header_filter;
  return NGX_OK;
}

}  // namespace captain::glue
