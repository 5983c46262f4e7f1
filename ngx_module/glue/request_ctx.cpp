#include "ngx_module/glue/request_ctx.h"

#include <new>

#include "ngx_module/core/id_generator.h"
#include "ngx_module/glue/header_list.h"
#include "ngx_module/glue/header_names.h"
#include "shared/encoding/hex.h"
#include "shared/trace_context/tracestate.h"

namespace captain::glue {

namespace {

// Per-worker: seeded after fork in init_process, so workers never share a sequence.
IdGenerator g_ids;

// Tags our context among the pool's cleanups so it can be found again after an internal
// redirect or a filter finalization has cleared r->ctx. The context is plain data: nothing
// to clean.
void ctx_tag(void*) {}

void note(IncomingHeader& in, ngx_table_elt_t& h) noexcept {
  if (in.count++ == 0) in.first = &h;
}

void scan_incoming_headers(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
  if (ctx->incoming_scanned) return;
  ctx->incoming_scanned = true;
  for_each_header(&r->headers_in.headers, [ctx](ngx_table_elt_t& h) {
    if (header_is(h, kRequestIdHeader)) {
      note(ctx->in_request_id, h);
    } else if (header_is(h, kTraceparentHeader)) {
      note(ctx->in_traceparent, h);
    } else if (header_is(h, kTracestateHeader)) {
      note(ctx->in_tracestate, h);
    }
  });
}

// Joins every incoming tracestate field (RFC 9110 list semantics) and normalizes the result.
bool take_tracestate(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
  size_t combined_len = 0;
  for_each_header(&r->headers_in.headers, [&](ngx_table_elt_t& h) {
    if (header_is(h, kTracestateHeader)) combined_len += h.value.len + 1;
  });

  auto* combined = static_cast<char*>(ngx_pnalloc(r->pool, combined_len * 2));
  if (combined == nullptr) return false;
  char* normalized = combined + combined_len;

  size_t len = 0;
  for_each_header(&r->headers_in.headers, [&](ngx_table_elt_t& h) {
    if (!header_is(h, kTracestateHeader)) return;
    if (len != 0) combined[len++] = ',';
    ngx_memcpy(combined + len, h.value.data, h.value.len);
    len += h.value.len;
  });

  const trace::TraceStateResult result =
      trace::normalize_tracestate(std::string_view(combined, len), normalized);
  if (result.status == trace::TraceStateStatus::ok) {
    ctx->tracestate = to_ngx_str(normalized, result.length);
  }
  return true;
}

}  // namespace

RequestCtx* existing_request_ctx(ngx_http_request_t* r) noexcept {
  ngx_http_request_t* main = r->main;
  auto* ctx = static_cast<RequestCtx*>(ngx_http_get_module_ctx(main, ngx_http_captain_module));
  if (ctx != nullptr) return ctx;

  for (ngx_pool_cleanup_t* c = main->pool->cleanup; c != nullptr; c = c->next) {
    if (c->handler == ctx_tag) {
      ctx = static_cast<RequestCtx*>(c->data);
      ngx_http_set_ctx(main, ctx, ngx_http_captain_module);
      return ctx;
    }
  }
  return nullptr;
}

RequestCtx* request_ctx(ngx_http_request_t* r) noexcept {
  RequestCtx* ctx = existing_request_ctx(r);
  if (ctx != nullptr) return ctx;

  ngx_http_request_t* main = r->main;
  ngx_pool_cleanup_t* c = ngx_pool_cleanup_add(main->pool, sizeof(RequestCtx));
  if (c == nullptr) return nullptr;
  c->handler = ctx_tag;
  ctx = new (c->data) RequestCtx;
  ngx_http_set_ctx(main, ctx, ngx_http_captain_module);
  return ctx;
}

const ngx_str_t* ensure_request_id(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
  if (ctx->request_id_ready) return &ctx->request_id;
  ctx->request_id_ready = true;
  scan_incoming_headers(r->main, ctx);

  if (ctx->in_request_id.count == 1 &&
      is_valid_request_id(to_view(ctx->in_request_id.first->value))) {
    ctx->request_id = ctx->in_request_id.first->value;
    ctx->request_id_honored = true;
    return &ctx->request_id;
  }

  std::array<std::uint8_t, 16> random;
  g_ids.fill(random);
  const auto format = static_cast<RequestIdFormat>(loc_conf(r)->request_id_format);
  const std::size_t len = format_request_id(format, random, ctx->generated_id);
  ctx->request_id = to_ngx_str(ctx->generated_id, len);
  return &ctx->request_id;
}

bool ensure_trace(ngx_http_request_t* r, RequestCtx* ctx) noexcept {
  if (ctx->trace_ready) return true;
  ctx->trace_ready = true;
  scan_incoming_headers(r->main, ctx);

  // Several traceparent fields make the header invalid; the spec then restarts the trace and
  // never looks at tracestate.
  std::optional<trace::TraceParent> parent;
  if (ctx->in_traceparent.count == 1) {
    parent = trace::parse_traceparent(to_view(ctx->in_traceparent.first->value));
  }

  ctx->span = start_span(parent, static_cast<std::uint32_t>(loc_conf(r)->trace_sample_ppm), g_ids);
  trace::format_traceparent(ctx->span.trace_id, ctx->span.span_id, ctx->span.trace_flags(),
                            ctx->traceparent);
  if (ctx->span.has_parent) {
    hex_encode(ctx->span.parent_span_id.data(), ctx->span.parent_span_id.size(),
               ctx->parent_span_hex);
    if (ctx->in_tracestate.count != 0 && !take_tracestate(r, ctx)) return false;
  }
  return true;
}

void seed_id_generator(ngx_log_t* log) noexcept {
  if (!g_ids.seed_from_os()) {
    ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                  "captain: getrandom() failed, request and trace ids seeded from time and pid");
  }
}

}  // namespace captain::glue
