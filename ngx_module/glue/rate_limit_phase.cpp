#include "ngx_module/glue/rate_limit_phase.h"

#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/rate_limit_conf.h"
#include "ngx_module/glue/request_ctx.h"
#include "ngx_module/glue/request_phase.h"

namespace captain::glue {

namespace {

using rate_limit::Outcome;

// bypass=$var: a non-empty value other than "0" exempts the request from the limit.
bool bypassed(ngx_http_request_t* r, const LimitRule& rule, bool* failed) noexcept {
  if (rule.bypass == nullptr) return false;
  ngx_str_t value;
  if (ngx_http_complex_value(r, rule.bypass, &value) != NGX_OK) {
    *failed = true;
    return false;
  }
  return !(value.len == 0 || (value.len == 1 && value.data[0] == '0'));
}

bool has_error_page(ngx_http_request_t* r, ngx_uint_t status) noexcept {
  auto* clcf =
      static_cast<ngx_http_core_loc_conf_t*>(ngx_http_get_module_loc_conf(r, ngx_http_core_module));
  if (clcf->error_pages == nullptr) return false;
  auto* pages = static_cast<ngx_http_err_page_t*>(clcf->error_pages->elts);
  for (ngx_uint_t i = 0; i < clcf->error_pages->nelts; ++i) {
    if (pages[i].status == static_cast<ngx_int_t>(status)) return true;
  }
  return false;
}

struct ChargedZone {
  LimitZone* zone;
  rate_limit::Ticket ticket;
};

const ngx_str_t kJsonType = ngx_string("application/json");

// {"error":"rate_limited","message":"Rate limit exceeded. Try again in 45 seconds.",
//  "zone":"api","retry_after":45}
ngx_int_t send_rejection(ngx_http_request_t* r, const LimitZone& zone, const LimitRule& rule,
                         const rate_limit::Decision& decision) noexcept {
  if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  const rate_limit::HeaderValues values =
      rate_limit::header_values(zone.policy, decision, static_cast<std::uint64_t>(ngx_time()));
  // Zone names come from nginx.conf tokens; only quotes and backslashes could break the JSON.
  const size_t max_len = 160 + NGX_INT64_LEN * 2 + zone.name.len * 2;
  auto* body = static_cast<u_char*>(ngx_pnalloc(r->pool, max_len));
  if (body == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  u_char* p = ngx_sprintf(body,
                          "{\"error\":\"rate_limited\",\"message\":\"Rate limit exceeded. Try "
                          "again in %uL second%s.\",\"zone\":\"",
                          values.retry_after, values.retry_after == 1 ? "" : "s");
  for (size_t i = 0; i < zone.name.len; ++i) {
    const u_char c = zone.name.data[i];
    if (c == '"' || c == '\\') *p++ = '\\';
    *p++ = c;
  }
  p = ngx_sprintf(p, "\",\"retry_after\":%uL}\n", values.retry_after);

  r->headers_out.status = rule.reject_status;
  r->headers_out.content_type = kJsonType;
  r->headers_out.content_type_len = kJsonType.len;
  r->headers_out.content_length_n = p - body;

  ngx_int_t rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;

  auto* buf = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
  if (buf == nullptr) return NGX_ERROR;
  buf->pos = body;
  buf->last = p;
  buf->memory = 1;
  buf->last_buf = (r == r->main) ? 1 : 0;
  buf->last_in_chain = 1;
  ngx_chain_t out{buf, nullptr};
  return ngx_http_output_filter(r, &out);
}

// A zone too small for its clients evicts keys that still hold state; operators hear about
// it in the error log once a minute per worker (like limit_req's "could not allocate node").
void warn_if_full(ngx_http_request_t* r, LimitZone* zone) noexcept {
  const std::uint64_t evictions = zone->table.stripe_evictions();
  if (evictions == zone->evictions_warned) return;
  const ngx_msec_t now = ngx_current_msec;
  if (zone->last_full_warning != 0 && now - zone->last_full_warning < 60000) return;
  ngx_log_error(
      NGX_LOG_WARN, r->connection->log, 0,
      "captain_limit_zone \"%V\" is full: evicting keys that still hold state (%uL so far in "
      "this worker); a larger size= keeps them",
      &zone->name, evictions);
  zone->evictions_warned = evictions;
  zone->last_full_warning = now;
}

ngx_int_t limit_access(ngx_http_request_t* r) noexcept {
  if (r != r->main) return NGX_DECLINED;
  const LocConf* lcf = loc_conf(r);
  if (lcf->limits == nullptr || lcf->limits->nelts == 0) return NGX_DECLINED;

  RequestCtx* ctx = request_ctx(r);
  if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  LimitState& state = ctx->limit;
  if (state.checked) return NGX_DECLINED;  // after an internal redirect
  state.checked = true;

  const auto* rules = static_cast<const LimitRule*>(lcf->limits->elts);
  const ngx_uint_t rule_count = lcf->limits->nelts;
  // Charges to take back if a later limit rejects the request.
  auto* tickets = static_cast<ChargedZone*>(ngx_palloc(r->pool, sizeof(ChargedZone) * rule_count));
  if (tickets == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  ngx_uint_t ticket_count = 0;

  const std::uint64_t now_ms = ngx_current_msec;
  bool any_checked = false;
  bool any_bypass = false;
  bool any_dry_run = false;

  for (ngx_uint_t i = 0; i < rule_count; ++i) {
    const LimitRule& rule = rules[i];
    LimitZone* zone = rule.zone;

    bool failed = false;
    if (bypassed(r, rule, &failed)) {
      zone->table.count(Outcome::bypass);
      any_bypass = true;
      continue;
    }
    ngx_str_t key_text;
    if (failed || ngx_http_complex_value(r, zone->key, &key_text) != NGX_OK) {
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (key_text.len == 0) continue;  // nginx convention: an empty key is not counted

    const rate_limit::Key key =
        rate_limit::make_key(key_text.data, key_text.len, zone->table.header().seed);
    const rate_limit::CheckResult result = zone->table.check(key, now_ms, !rule.count_failures);
    any_checked = true;
    // A count=failures limit reports its headers once the response says whether it counted.
    if (!rule.count_failures) note_header_decision(state, zone, result.decision);

    if (!result.decision.allowed) {
      if (rule.dry_run) {
        zone->table.count(Outcome::dry_run);
        any_dry_run = true;
        continue;
      }
      zone->table.count(Outcome::rejected);
      for (ngx_uint_t t = 0; t < ticket_count; ++t) {
        tickets[t].zone->table.refund(tickets[t].ticket);
      }
      state.status = LimitStatus::rejected;
      state.header_zone = zone;
      state.header_decision = result.decision;
      state.pending_count = 0;
      if (has_error_page(r, rule.reject_status)) {
        return static_cast<ngx_int_t>(rule.reject_status);
      }
      ngx_http_finalize_request(r, send_rejection(r, *zone, rule, result.decision));
      return NGX_DONE;
    }

    zone->table.count(Outcome::passed);
    warn_if_full(r, zone);
    if (result.ticket.slot != nullptr) tickets[ticket_count++] = ChargedZone{zone, result.ticket};
    if (rule.count_failures) {
      if (state.pending == nullptr) {
        state.pending = static_cast<PendingFailureCharge*>(
            ngx_palloc(r->pool, sizeof(PendingFailureCharge) * rule_count));
        if (state.pending == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
      }
      state.pending[state.pending_count++] = PendingFailureCharge{&rule, key};
    }
  }

  state.status = any_dry_run   ? LimitStatus::dry_run
                 : any_checked ? LimitStatus::passed
                 : any_bypass  ? LimitStatus::bypass
                               : LimitStatus::none;
  return NGX_DECLINED;
}

}  // namespace

ngx_int_t init_rate_limit_phase(ngx_conf_t* cf) noexcept {
  return add_phase_handler(cf, NGX_HTTP_PREACCESS_PHASE, limit_access);
}

}  // namespace captain::glue
