#include "ngx_module/glue/rate_limit_headers.h"

#include "ngx_module/glue/header_list.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/rate_limit_conf.h"
#include "ngx_module/glue/request_ctx.h"

namespace captain::glue {

namespace {

ngx_http_output_header_filter_pt g_next_header_filter;

const ngx_str_t kLimit = ngx_string("X-RateLimit-Limit");
const ngx_str_t kRemaining = ngx_string("X-RateLimit-Remaining");
const ngx_str_t kReset = ngx_string("X-RateLimit-Reset");
const ngx_str_t kPolicy = ngx_string("RateLimit-Policy");
const ngx_str_t kRateLimit = ngx_string("RateLimit");
const ngx_str_t kRetryAfter = ngx_string("Retry-After");

// failure_status lists the statuses that count; failure_if=$var counts a response whose value is
// non-empty and not "0" (an API answering 200 with an error in its body can say so in a header,
// read here as $upstream_http_*; responses nginx made itself leave it empty). A value that
// cannot be evaluated (no memory) counts as a failure: a login limiter fails closed.
bool is_failure(ngx_http_request_t* r, const LimitRule& rule, bool* failed) noexcept {
  const ngx_uint_t status = r->headers_out.status;
  for (ngx_uint_t i = 0; i < rule.failure_status_count; ++i) {
    if (rule.failure_statuses[i] == status) return true;
  }
  if (rule.failure_if == nullptr) return false;
  ngx_str_t value;
  if (ngx_http_complex_value(r, rule.failure_if, &value) != NGX_OK) {
    *failed = true;
    return true;
  }
  return !(value.len == 0 || (value.len == 1 && value.data[0] == '0'));
}

// count=failures limits were only checked up front; the response decides the charge. Runs in
// the header filter, where the upstream's headers are known. NGX_ERROR when failure_if could not
// be evaluated (after charging every pending limit all the same).
ngx_int_t settle_failure_charges(ngx_http_request_t* r, LimitState& state) noexcept {
  const std::uint64_t now_ms = ngx_current_msec;
  bool failed = false;
  for (ngx_uint_t i = 0; i < state.pending_count; ++i) {
    const PendingFailureCharge& pending = state.pending[i];
    LimitZone* zone = pending.rule->zone;
    if (is_failure(r, *pending.rule, &failed)) {
      zone->table.charge_unconditionally(pending.key, now_ms);
    }
    note_header_decision(state, zone, zone->table.check(pending.key, now_ms, false).decision);
  }
  state.pending_count = 0;
  return failed ? NGX_ERROR : NGX_OK;
}

// Upstream copies of the headers we send are dropped, so clients see one value.
void drop_upstream_copies(ngx_http_request_t* r, bool legacy, bool ietf,
                          bool retry_after) noexcept {
  for_each_header(&r->headers_out.headers, [&](ngx_table_elt_t& h) {
    if (h.hash == 0) return;
    if ((legacy && (header_is(h, kLimit) || header_is(h, kRemaining) || header_is(h, kReset))) ||
        (ietf && (header_is(h, kPolicy) || header_is(h, kRateLimit))) ||
        (retry_after && header_is(h, kRetryAfter))) {
      h.hash = 0;
    }
  });
}

ngx_int_t push_number(ngx_http_request_t* r, const ngx_str_t& name, std::uint64_t n) noexcept {
  auto* buf = static_cast<u_char*>(ngx_pnalloc(r->pool, NGX_INT64_LEN));
  if (buf == nullptr) return NGX_ERROR;
  const u_char* end = ngx_sprintf(buf, "%uL", n);
  return push_response_header(r, name, ngx_str_t{static_cast<size_t>(end - buf), buf}) ? NGX_OK
                                                                                       : NGX_ERROR;
}

// Structured-field string (RFC 8941) holding the zone name.
u_char* write_sf_string(u_char* p, const ngx_str_t& s) noexcept {
  *p++ = '"';
  for (size_t i = 0; i < s.len; ++i) {
    if (s.data[i] == '"' || s.data[i] == '\\') *p++ = '\\';
    *p++ = s.data[i];
  }
  *p++ = '"';
  return p;
}

// draft-ietf-httpapi-ratelimit-headers-10: RateLimit-Policy: "api";q=100;w=60 and
// RateLimit: "api";r=99;t=60.
ngx_int_t push_ietf(ngx_http_request_t* r, const LimitZone& zone,
                    const rate_limit::HeaderValues& values) noexcept {
  const size_t len = zone.name.len * 2 + 2 + 6 + NGX_INT64_LEN * 2;
  auto* policy = static_cast<u_char*>(ngx_pnalloc(r->pool, len * 2));
  if (policy == nullptr) return NGX_ERROR;
  u_char* p = write_sf_string(policy, zone.name);
  p = ngx_sprintf(p, ";q=%uL;w=%uL", values.limit, values.window_seconds);
  if (push_response_header(r, kPolicy, ngx_str_t{static_cast<size_t>(p - policy), policy}) ==
      nullptr) {
    return NGX_ERROR;
  }
  u_char* current = policy + len;
  p = write_sf_string(current, zone.name);
  p = ngx_sprintf(p, ";r=%uL;t=%uL", values.remaining, values.reset_seconds);
  return push_response_header(r, kRateLimit, ngx_str_t{static_cast<size_t>(p - current), current})
             ? NGX_OK
             : NGX_ERROR;
}

ngx_int_t limit_header_filter(ngx_http_request_t* r) noexcept {
  if (r != r->main) return g_next_header_filter(r);
  RequestCtx* ctx = existing_request_ctx(r);
  if (ctx == nullptr || ctx->limit.status == LimitStatus::none) return g_next_header_filter(r);

  LimitState& state = ctx->limit;
  if (state.pending_count != 0 && settle_failure_charges(r, state) != NGX_OK) return NGX_ERROR;
  if (state.header_zone == nullptr) return g_next_header_filter(r);

  const auto mode = static_cast<LimitHeaders>(loc_conf(r)->limit_headers);
  const bool legacy = mode == LimitHeaders::legacy || mode == LimitHeaders::both;
  const bool ietf = mode == LimitHeaders::ietf || mode == LimitHeaders::both;
  const bool retry_after = state.status == LimitStatus::rejected;
  if (!legacy && !ietf && !retry_after) return g_next_header_filter(r);

  const LimitZone& zone = *state.header_zone;
  const rate_limit::HeaderValues values = rate_limit::header_values(
      zone.policy, state.header_decision, static_cast<std::uint64_t>(ngx_time()));

  drop_upstream_copies(r, legacy, ietf, retry_after);
  if (legacy && (push_number(r, kLimit, values.limit) != NGX_OK ||
                 push_number(r, kRemaining, values.remaining) != NGX_OK ||
                 push_number(r, kReset, values.reset_epoch) != NGX_OK)) {
    return NGX_ERROR;
  }
  if (ietf && push_ietf(r, zone, values) != NGX_OK) return NGX_ERROR;
  if (retry_after && push_number(r, kRetryAfter, values.retry_after) != NGX_OK) return NGX_ERROR;
  return g_next_header_filter(r);
}

}  // namespace

ngx_int_t init_rate_limit_headers(ngx_conf_t*) noexcept {
  g_next_header_filter = ngx_http_top_header_filter;
  ngx_http_top_header_filter = limit_header_filter;
  return NGX_OK;
}

}  // namespace captain::glue
