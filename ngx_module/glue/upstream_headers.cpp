#include "ngx_module/glue/upstream_headers.h"

#include "ngx_module/glue/header_list.h"
#include "ngx_module/glue/header_names.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/request_ctx.h"
#include "ngx_module/glue/request_phase.h"

namespace captain::glue {

namespace {

HeaderName g_request_id_header;
HeaderName g_traceparent_header;
HeaderName g_tracestate_header;

// Runs in the rewrite phase of every location the request passes through; the context makes it
// act once per feature. Subrequests copy the main request's headers, so they need nothing.
ngx_int_t upstream_headers_handler(ngx_http_request_t* r) noexcept {
  if (r != r->main) return NGX_DECLINED;

  const LocConf* lcf = loc_conf(r);
  if (!lcf->request_id && !lcf->trace) return NGX_DECLINED;

  RequestCtx* ctx = request_ctx(r);
  if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  if (lcf->request_id && !ctx->request_id_sent_upstream) {
    ctx->request_id_sent_upstream = true;
    const ngx_str_t* id = ensure_request_id(r, ctx);
    const IncomingHeader& in = ctx->in_request_id;
    if (!ctx->request_id_honored &&
        replace_request_header(r, g_request_id_header, in.first, in.count, *id) != NGX_OK) {
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
  }

  if (lcf->trace && !ctx->trace_sent_upstream) {
    ctx->trace_sent_upstream = true;
    if (!ensure_trace(r, ctx)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    // Exactly one traceparent goes upstream (ours), and tracestate only with a continued
    // trace: a restarted trace drops it, as the spec recommends.
    const ngx_str_t traceparent = to_ngx_str(ctx->traceparent, sizeof(ctx->traceparent));
    const IncomingHeader& tp = ctx->in_traceparent;
    const IncomingHeader& ts = ctx->in_tracestate;
    if (replace_request_header(r, g_traceparent_header, tp.first, tp.count, traceparent) !=
            NGX_OK ||
        replace_request_header(r, g_tracestate_header, ts.first, ts.count, ctx->tracestate) !=
            NGX_OK) {
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
  }
  return NGX_DECLINED;
}

}  // namespace

ngx_int_t init_upstream_headers(ngx_conf_t* cf) noexcept {
  g_request_id_header = make_header_name(kRequestIdHeader, "x-request-id");
  g_traceparent_header = make_header_name(kTraceparentHeader, "traceparent");
  g_tracestate_header = make_header_name(kTracestateHeader, "tracestate");

  return add_phase_handler(cf, NGX_HTTP_REWRITE_PHASE, upstream_headers_handler);
}

}  // namespace captain::glue
