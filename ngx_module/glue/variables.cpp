#include "ngx_module/glue/variables.h"

#include "ngx_module/glue/cache_phase.h"
#include "ngx_module/glue/request_ctx.h"

namespace captain::glue {

namespace {

// The variables work wherever they are used (log_format, proxy_set_header, ...), whether or not
// the feature adds headers at that location, like nginx's own $request_id.
enum class Var : uintptr_t {
  request_id,
  trace_id,
  span_id,
  parent_span_id,
  traceparent,
  trace_sampled,
};

void set_value(ngx_http_variable_value_t* v, const char* data, size_t len) noexcept {
  v->data = reinterpret_cast<u_char*>(const_cast<char*>(data));
  v->len = static_cast<unsigned>(len) & 0x0fffffffu;  // a 28-bit field; our values are tiny
  v->valid = 1;
  v->no_cacheable = 0;
  v->not_found = 0;
}

// $captain_limit_status, like nginx's $limit_req_status: not found until a limit applied.
ngx_int_t get_limit_status(ngx_http_request_t* r, ngx_http_variable_value_t* v,
                           uintptr_t) noexcept {
  const RequestCtx* ctx = existing_request_ctx(r);
  const LimitStatus status = ctx != nullptr ? ctx->limit.status : LimitStatus::none;
  switch (status) {
    case LimitStatus::passed:
      set_value(v, "PASSED", 6);
      return NGX_OK;
    case LimitStatus::rejected:
      set_value(v, "REJECTED", 8);
      return NGX_OK;
    case LimitStatus::dry_run:
      set_value(v, "DRY_RUN", 7);
      return NGX_OK;
    case LimitStatus::bypass:
      set_value(v, "BYPASS", 6);
      return NGX_OK;
    case LimitStatus::none:
      break;
  }
  v->not_found = 1;
  return NGX_OK;
}

// $captain_cache_status: HIT, MISS, BYPASS, EXPIRED or STALE; not found where no cache applied.
ngx_int_t get_cache_status(ngx_http_request_t* r, ngx_http_variable_value_t* v,
                           uintptr_t) noexcept {
  const RequestCtx* ctx = existing_request_ctx(r);
  const ngx_str_t text = cache_status_text(
      ctx != nullptr && ctx->cache != nullptr ? ctx->cache->status : CacheStatus::none);
  if (text.len == 0) {
    v->not_found = 1;
    return NGX_OK;
  }
  set_value(v, reinterpret_cast<const char*>(text.data), text.len);
  return NGX_OK;
}

ngx_int_t get_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v,
                       uintptr_t data) noexcept {
  RequestCtx* ctx = request_ctx(r);
  if (ctx == nullptr) return NGX_ERROR;

  const auto which = static_cast<Var>(data);
  if (which == Var::request_id) {
    const ngx_str_t* id = ensure_request_id(r, ctx);
    set_value(v, reinterpret_cast<const char*>(id->data), id->len);
    return NGX_OK;
  }

  if (!ensure_trace(r, ctx)) return NGX_ERROR;
  // traceparent is "00-<trace-id>-<span-id>-<flags>"; ids are read out of it.
  switch (which) {
    case Var::trace_id:
      set_value(v, ctx->traceparent + trace::kTraceIdOffset, 32);
      break;
    case Var::span_id:
      set_value(v, ctx->traceparent + trace::kParentIdOffset, 16);
      break;
    case Var::parent_span_id:
      if (ctx->span.has_parent) {
        set_value(v, ctx->parent_span_hex, sizeof(ctx->parent_span_hex));
      } else {
        v->not_found = 1;  // a new trace has no parent span
      }
      break;
    case Var::traceparent:
      set_value(v, ctx->traceparent, sizeof(ctx->traceparent));
      break;
    case Var::trace_sampled:
      set_value(v, ctx->span.sampled ? "1" : "0", 1);
      break;
    case Var::request_id:
      break;
  }
  return NGX_OK;
}

struct VariableSpec {
  ngx_str_t name;
  Var which;
};

const VariableSpec kVariables[] = {
    {ngx_string("captain_request_id"), Var::request_id},
    {ngx_string("captain_trace_id"), Var::trace_id},
    {ngx_string("captain_span_id"), Var::span_id},
    {ngx_string("captain_parent_span_id"), Var::parent_span_id},
    {ngx_string("captain_traceparent"), Var::traceparent},
    {ngx_string("captain_trace_sampled"), Var::trace_sampled},
};

}  // namespace

ngx_int_t add_variables(ngx_conf_t* cf) noexcept {
  for (const VariableSpec& spec : kVariables) {
    ngx_str_t name = spec.name;
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, 0);
    if (var == nullptr) return NGX_ERROR;
    var->get_handler = get_variable;
    var->data = static_cast<uintptr_t>(spec.which);
  }

  ngx_str_t name = ngx_string("captain_limit_status");
  ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
  if (var == nullptr) return NGX_ERROR;
  var->get_handler = get_limit_status;

  name = ngx_string("captain_cache_status");
  var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
  if (var == nullptr) return NGX_ERROR;
  var->get_handler = get_cache_status;
  return NGX_OK;
}

}  // namespace captain::glue
