#include "ngx_module/glue/cache_phase.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "ngx_module/core/cache/cache_control.h"
#include "ngx_module/core/cache/cache_key.h"
#include "ngx_module/core/cache/freshness.h"
#include "ngx_module/glue/cache_conf.h"
#include "ngx_module/glue/header_list.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/request_ctx.h"
#include "ngx_module/glue/request_phase.h"
#include "ngx_module/glue/status_handler.h"

namespace captain::glue {

namespace {

using cache::Outcome;

ngx_http_output_header_filter_pt g_next_header_filter;
ngx_http_output_body_filter_pt g_next_body_filter;

const ngx_str_t kXCache = ngx_string("X-Cache");
const ngx_str_t kAge = ngx_string("Age");
const ngx_str_t kContentType = ngx_string("Content-Type");
const ngx_str_t kContentEncoding = ngx_string("Content-Encoding");
const ngx_str_t kLastModified = ngx_string("Last-Modified");
const ngx_str_t kEtag = ngx_string("ETag");
const ngx_str_t kCacheControl = ngx_string("Cache-Control");
const ngx_str_t kAcceptEncoding = ngx_string("Accept-Encoding");
const ngx_str_t kSetCookie = ngx_string("Set-Cookie");
const ngx_str_t kVary = ngx_string("Vary");
const ngx_str_t kExpires = ngx_string("Expires");

// Response headers that describe one transfer, not the stored representation: never stored.
const ngx_str_t kNotStored[] = {
    ngx_string("Content-Length"),
    ngx_string("Transfer-Encoding"),
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("Proxy-Connection"),
    ngx_string("Trailer"),
    ngx_string("Upgrade"),
    ngx_string("TE"),
    ngx_string("Date"),
    ngx_string("Server"),
    ngx_string("Age"),
    ngx_string("X-Cache"),
    ngx_string("Set-Cookie"),
};

// A stored header: hash 0 means removed; hash 1 marks headers nginx's configuration adds to
// every response (add_header, expires, this module's own), which are added again on a hit.
bool stored_header(const ngx_table_elt_t& h) noexcept {
  if (h.hash == 0 || h.hash == 1) return false;
  for (const ngx_str_t& name : kNotStored) {
    if (header_is(h, name)) return false;
  }
  return true;
}

// Stored headers are records: u32 name length, u32 value length, name, value. The first
// record is the Content-Type (nginx keeps it outside the header list).
std::size_t record_size(const ngx_str_t& name, const ngx_str_t& value) noexcept {
  return 8 + name.len + value.len;
}

u_char* write_record(u_char* p, const ngx_str_t& name, const ngx_str_t& value) noexcept {
  const auto name_len = static_cast<std::uint32_t>(name.len);
  const auto value_len = static_cast<std::uint32_t>(value.len);
  std::memcpy(p, &name_len, 4);
  std::memcpy(p + 4, &value_len, 4);
  p = ngx_cpymem(p + 8, name.data, name.len);
  return ngx_cpymem(p, value.data, value.len);
}

std::size_t headers_size(ngx_http_request_t* r) noexcept {
  std::size_t size = record_size(kContentType, r->headers_out.content_type);
  for_each_header(&r->headers_out.headers, [&](ngx_table_elt_t& h) {
    if (stored_header(h)) size += record_size(h.key, h.value);
  });
  return size;
}

void write_headers(ngx_http_request_t* r, u_char* p) noexcept {
  p = write_record(p, kContentType, r->headers_out.content_type);
  for_each_header(&r->headers_out.headers, [&](ngx_table_elt_t& h) {
    if (stored_header(h)) p = write_record(p, h.key, h.value);
  });
}

// Puts stored headers (already copied into the request pool) into the response.
ngx_int_t restore_headers(ngx_http_request_t* r, u_char* p, std::size_t size) noexcept {
  const u_char* end = p + size;
  bool first = true;
  while (end - p >= 8) {
    std::uint32_t name_len = 0;
    std::uint32_t value_len = 0;
    std::memcpy(&name_len, p, 4);
    std::memcpy(&value_len, p + 4, 4);
    if (static_cast<std::size_t>(end - p) - 8 < std::size_t{name_len} + value_len) break;
    ngx_str_t name{name_len, p + 8};
    ngx_str_t value{value_len, p + 8 + name_len};
    p += 8 + name_len + value_len;
    if (first) {
      first = false;
      r->headers_out.content_type = value;
      r->headers_out.content_type_len = value.len;
      continue;
    }
    ngx_table_elt_t* h = push_response_header(r, name, value);
    if (h == nullptr) return NGX_ERROR;
    if (header_is(*h, kContentEncoding)) {
      r->headers_out.content_encoding = h;
    } else if (header_is(*h, kLastModified)) {
      r->headers_out.last_modified = h;
      r->headers_out.last_modified_time = ngx_parse_http_time(value.data, value.len);
    } else if (header_is(*h, kEtag)) {
      r->headers_out.etag = h;
    }
  }
  return NGX_OK;
}

// bypass=$var: a non-empty value other than "0" skips the cache.
bool bypassed(ngx_http_request_t* r, const CacheLoc& loc, bool* failed) noexcept {
  if (loc.bypass == nullptr) return false;
  ngx_str_t value;
  if (ngx_http_complex_value(r, loc.bypass, &value) != NGX_OK) {
    *failed = true;
    return false;
  }
  return !(value.len == 0 || (value.len == 1 && value.data[0] == '0'));
}

cache::StorePolicy effective_policy(const CacheState& st) noexcept {
  cache::StorePolicy policy = st.loc->policy;
  if (!st.loc->ttl_given) policy.default_ttl = st.zone->default_ttl;
  return policy;
}

// How long concurrent misses wait for the one request that fills the key, and how often
// they look: a filler that takes longer (or died) lets them go upstream uncached.
constexpr ngx_msec_t kFillWaitMs = 3000;
constexpr ngx_msec_t kFillPollMs = 10;

void end_fill(CacheState* st) noexcept {
  if (!st->fill_locked) return;
  st->fill_locked = false;
  st->zone->store.end_fill(st->fill_hash);
}

void abort_slot(CacheState* st) noexcept {
  if (st->slot.valid()) st->zone->store.abort(st->slot);
  st->storing = false;
  end_fill(st);
}

// The request's end, however it ends: no reservation or fill lock outlives it.
void cleanup_state(void* data) noexcept {
  abort_slot(static_cast<CacheState*>(data));
}

bool ensure_cleanup(ngx_http_request_t* r, CacheState* st) noexcept {
  if (st->cleanup_added) return true;
  ngx_pool_cleanup_t* cleanup = ngx_pool_cleanup_add(r->pool, 0);
  if (cleanup == nullptr) return false;
  cleanup->handler = cleanup_state;
  cleanup->data = st;
  st->cleanup_added = true;
  return true;
}

// An entry copied out of the zone: headers then body, in the request pool.
struct CopiedEntry {
  u_char* bytes = nullptr;
  std::size_t header_size = 0;
  std::size_t body_size = 0;
  unsigned status = 0;
};

enum class CopyResult { copied, no_memory, torn };

// Copies a pinned entry out of the zone at once and unpins it: the response does not depend on
// the entry surviving a slow client, and the pin is held only for the copy. `torn`: the zone was
// formatted again meanwhile (a worker died holding its lock), so the bytes may be another
// entry's and the request is treated as a miss.
CopyResult copy_and_release(ngx_pool_t* pool, cache::CacheStore& store, cache::Handle& h,
                            CopiedEntry* out) noexcept {
  out->header_size = h.headers.size();
  out->body_size = h.body_size;
  out->status = h.meta.status;
  out->bytes = static_cast<u_char*>(ngx_pnalloc(pool, out->header_size + out->body_size + 1));
  if (out->bytes != nullptr) {
    ngx_memcpy(out->bytes, h.headers.data(), out->header_size);
    ngx_memcpy(out->bytes + out->header_size, h.body, out->body_size);
  }
  const bool intact = store.release(h);
  if (out->bytes == nullptr) return CopyResult::no_memory;
  return intact ? CopyResult::copied : CopyResult::torn;
}

ngx_int_t serve_hit(ngx_http_request_t* r, const CopiedEntry& entry, std::uint64_t age) noexcept {
  u_char* const copy = entry.bytes;
  const std::size_t header_size = entry.header_size;
  const std::size_t body_size = entry.body_size;
  const unsigned status = entry.status;

  if (ngx_http_discard_request_body(r) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  if (restore_headers(r, copy, header_size) != NGX_OK) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  r->headers_out.status = status;
  r->headers_out.content_length_n = static_cast<off_t>(body_size);

  auto* age_text = static_cast<u_char*>(ngx_pnalloc(r->pool, NGX_INT64_LEN));
  if (age_text == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  const ngx_str_t age_value{static_cast<size_t>(ngx_sprintf(age_text, "%uL", age) - age_text),
                            age_text};
  if (push_response_header(r, kAge, age_value) == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  const ngx_int_t rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
  if (body_size == 0) return ngx_http_send_special(r, NGX_HTTP_LAST);

  auto* buf = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
  if (buf == nullptr) return NGX_ERROR;
  buf->pos = copy + header_size;
  buf->last = buf->pos + body_size;
  buf->memory = 1;
  buf->last_buf = 1;
  buf->last_in_chain = 1;
  ngx_chain_t out{buf, nullptr};
  return ngx_http_output_filter(r, &out);
}

cache::EncodingSet accepted_encodings(ngx_http_request_t* r) noexcept {
  cache::AcceptEncoding ae;
  for_each_header(&r->headers_in.headers, [&](ngx_table_elt_t& h) {
    if (header_is(h, kAcceptEncoding)) cache::parse_accept_encoding(to_view(h.value), ae);
  });
  return ae.set();
}

ngx_int_t set_bypass(CacheState* st) noexcept {
  st->status = CacheStatus::bypass;
  st->zone->store.record(Outcome::bypass);
  return NGX_DECLINED;
}

// A fresh entry for the request's key (its Accept-Encoding variant when the key varies),
// pinned; or an invalid handle with `*expired` telling whether a stale one was there.
cache::Handle find_fresh(CacheState* st, std::int64_t now, std::uint64_t* age,
                         bool* expired) noexcept {
  cache::CacheStore& store = st->zone->store;
  cache::Handle h = store.lookup(to_view(st->base_key));
  if (h.valid() && (h.meta.flags & cache::kEntryVaryMarker) != 0) {
    store.release(h);
    h = store.lookup(to_view(st->variant_key));
  }
  if (!h.valid()) return h;
  *age = cache::current_age(h.meta.initial_age, h.meta.response_time, now);
  if (now < h.meta.fresh_until && cache::request_accepts(st->request_directives, *age)) return h;
  store.release(h);
  *expired = true;
  return cache::Handle();
}

ngx_int_t answer_hit(ngx_http_request_t* r, CacheState* st, const CopiedEntry& entry,
                     std::uint64_t age) noexcept {
  st->status = CacheStatus::hit;
  st->waiting = false;
  st->zone->store.record(Outcome::hit);
  ngx_http_finalize_request(r, serve_hit(r, entry, age));
  return NGX_DONE;
}

// A fresh entry for the request, copied out of the zone; NGX_DECLINED when there is none (or
// it was torn by a format), else what the phase handler returns.
ngx_int_t try_hit(ngx_http_request_t* r, CacheState* st, bool* expired) noexcept {
  std::uint64_t age = 0;
  cache::Handle h = find_fresh(st, ngx_time(), &age, expired);
  if (!h.valid()) return NGX_DECLINED;
  CopiedEntry entry;
  switch (copy_and_release(r->pool, st->zone->store, h, &entry)) {
    case CopyResult::copied:
      return answer_hit(r, st, entry, age);
    case CopyResult::no_memory:
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    case CopyResult::torn:
      break;
  }
  return NGX_DECLINED;
}

// The request goes to its content handler; its response may be stored.
ngx_int_t go_upstream(ngx_http_request_t* r, CacheState* st, CacheStatus outcome) noexcept {
  st->waiting = false;
  st->status = outcome;
  // An expired entry is counted once the response is known: it may still go out as STALE.
  if (outcome == CacheStatus::expired) {
    st->expired_uncounted = true;
  } else {
    st->zone->store.record(Outcome::miss);
  }
  // A HEAD response has no body to store, and a Range request's response is partial.
  st->fill = st->method == cache::kMethodGet && r->headers_in.range == nullptr;
  if (!st->fill) return NGX_DECLINED;
  // The upstream sees the normalized Accept-Encoding, so it cannot pick a coding that another
  // client of the same variant does not accept (cache_key.h).
  static const HeaderName accept_encoding = make_header_name(kAcceptEncoding, "accept-encoding");
  const std::string_view normalized = cache::normalized_accept_encoding(st->encodings);
  if (set_request_header(r, accept_encoding, to_ngx_str(normalized.data(), normalized.size())) !=
      NGX_OK) {
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  return NGX_DECLINED;
}

// The timer of a request waiting for another one to fill its key: back into the phases,
// where cache_lookup looks again.
void wake_waiter(ngx_http_request_t* r) noexcept {
  ngx_event_t* wev = r->connection->write;
  if (wev->delayed) {
    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
      ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
    return;
  }
  if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  r->read_event_handler = ngx_http_block_reading;
  r->write_event_handler = ngx_http_core_run_phases;
  ngx_http_core_run_phases(r);
}

ngx_int_t wait_for_fill(ngx_http_request_t* r) noexcept {
  // Like limit_req's delay: the write event's timer resumes the phases.
  r->read_event_handler = ngx_http_test_reading;
  r->write_event_handler = wake_waiter;
  r->connection->write->delayed = 1;
  ngx_add_timer(r->connection->write, kFillPollMs);
  return NGX_AGAIN;
}

// Looks again for the entry another request is filling.
ngx_int_t poll_fill(ngx_http_request_t* r, CacheState* st) noexcept {
  bool expired = false;
  const ngx_int_t hit = try_hit(r, st, &expired);
  if (hit != NGX_DECLINED) return hit;
  cache::CacheStore& store = st->zone->store;
  // The filler is done (its response was not stored) or took too long: go upstream, without
  // taking the lock, so that waiters on an uncacheable key do not queue behind one another.
  if (store.try_begin_fill(st->fill_hash, ngx_current_msec, kFillWaitMs)) {
    store.end_fill(st->fill_hash);
    return go_upstream(r, st, expired ? CacheStatus::expired : CacheStatus::miss);
  }
  if (ngx_current_msec - st->wait_start >= kFillWaitMs) {
    return go_upstream(r, st, expired ? CacheStatus::expired : CacheStatus::miss);
  }
  return wait_for_fill(r);
}

ngx_int_t cache_lookup(ngx_http_request_t* r) noexcept {
  if (r != r->main) return NGX_DECLINED;
  const auto* loc = static_cast<const CacheLoc*>(loc_conf(r)->cache);
  if (loc == nullptr || !loc->zone->store.valid()) return NGX_DECLINED;
  // The status page (and purging through it) is never cached, even under an inherited
  // captain_cache.
  const auto* clcf =
      static_cast<ngx_http_core_loc_conf_t*>(ngx_http_get_module_loc_conf(r, ngx_http_core_module));
  if (clcf->handler == status_handler) return NGX_DECLINED;

  RequestCtx* ctx = request_ctx(r);
  if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  if (ctx->cache != nullptr) {
    // Back from waiting for a fill; otherwise looked up before an internal redirect.
    return ctx->cache->waiting ? poll_fill(r, ctx->cache) : NGX_DECLINED;
  }
  void* mem = ngx_palloc(r->pool, sizeof(CacheState));
  if (mem == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  auto* st = new (mem) CacheState;
  ctx->cache = st;
  st->loc = loc;
  st->zone = loc->zone;
  st->request_time = ngx_time();
  cache::CacheStore& store = st->zone->store;

  st->method = cache::method_bit(to_view(r->method_name));
  bool failed = false;
  const bool skip = (st->method & loc->policy.methods) == 0 || bypassed(r, *loc, &failed);
  if (failed) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  if (skip) return set_bypass(st);

  for_each_header(&r->headers_in.headers, [&](ngx_table_elt_t& h) {
    if (header_is(h, kCacheControl)) {
      cache::parse_request_cache_control(to_view(h.value), st->request_directives);
    }
  });
  const cache::RequestMode mode = cache::request_mode(st->request_directives);
  if (mode == cache::RequestMode::bypass) return set_bypass(st);

  if (ngx_http_complex_value(r, loc->key, &st->base_key) != NGX_OK) {
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
  if (st->base_key.len == 0) return set_bypass(st);

  const cache::EncodingSet encodings = accepted_encodings(r);
  st->encodings = encodings;
  const std::size_t capacity = cache::variant_key_capacity(st->base_key.len);
  auto* variant = static_cast<char*>(ngx_pnalloc(r->pool, capacity));
  if (variant == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  st->variant_key.data = reinterpret_cast<u_char*>(variant);
  st->variant_key.len =
      cache::write_variant_key(to_view(st->base_key), encodings, variant, capacity);

  bool expired = false;
  if (mode == cache::RequestMode::normal) {
    const ngx_int_t hit = try_hit(r, st, &expired);
    if (hit != NGX_DECLINED) return hit;
  }
  const CacheStatus outcome = expired ? CacheStatus::expired : CacheStatus::miss;
  if (st->method != cache::kMethodGet || r->headers_in.range != nullptr) {
    return go_upstream(r, st, outcome);
  }

  // One request per key goes upstream; the others wait for its entry (bounded).
  st->fill_hash = store.key_hash(to_view(st->base_key));
  if (!ensure_cleanup(r, st)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  if (store.try_begin_fill(st->fill_hash, ngx_current_msec, kFillWaitMs)) {
    st->fill_locked = true;
    return go_upstream(r, st, outcome);
  }
  st->waiting = true;
  st->wait_start = ngx_current_msec;
  return wait_for_fill(r);
}

// Decides whether the response being sent may be stored and, if so, reserves its entry.
void begin_store(ngx_http_request_t* r, CacheState* st) noexcept {
  const cache::StorePolicy policy = effective_policy(*st);
  cache::ResponseFacts facts;
  facts.method = to_view(r->method_name);
  facts.status = static_cast<unsigned>(r->headers_out.status);
  facts.request_has_authorization = r->headers_in.authorization != nullptr;
  const std::int64_t now = ngx_time();
  cache::ResponseTimes times;
  times.request_time = st->request_time;
  times.response_time = now;
  for_each_header(&r->headers_out.headers, [&](ngx_table_elt_t& h) {
    if (h.hash == 0) return;
    const std::string_view value = to_view(h.value);
    if (header_is(h, kSetCookie)) {
      facts.has_set_cookie = true;
    } else if (header_is(h, kCacheControl)) {
      cache::parse_response_cache_control(value, facts.cache_control);
    } else if (header_is(h, kVary)) {
      cache::parse_vary(value, facts.vary);
    } else if (header_is(h, kExpires)) {
      times.expires = cache::parse_expires(value, now);
    } else if (header_is(h, kAge)) {
      times.age = cache::parse_age(value);
    }
  });
  if (cache::storable(policy, facts) != cache::Verdict::store) return;
  if (r->headers_out.content_length_n > static_cast<off_t>(st->zone->max_object)) return;
  if (r->upstream != nullptr && r->upstream->headers_in.date != nullptr) {
    times.date = cache::parse_http_date(to_view(r->upstream->headers_in.date->value), now);
  }

  const cache::Freshness freshness = cache::assess(facts.cache_control, times, policy);
  if (freshness.lifetime == 0 && freshness.stale_if_error == 0) return;
  const cache::Deadlines d = cache::deadlines(freshness, now);
  st->meta.status = facts.status;
  st->meta.response_time = now;
  st->meta.fresh_until = freshness.always_stale ? now : d.fresh_until;
  st->meta.stale_until = d.stale_until;
  st->meta.initial_age = freshness.initial_age;

  st->vary_marker = facts.vary == cache::Vary::accept_encoding;
  if (st->vary_marker && st->variant_key.len == 0) return;
  const ngx_str_t& key = st->vary_marker ? st->variant_key : st->base_key;
  const std::size_t header_size = headers_size(r);
  st->body_size = 0;
  if (!ensure_cleanup(r, st)) return;

  if (r->headers_out.content_length_n < 0) {
    auto* headers = static_cast<u_char*>(ngx_pnalloc(r->pool, header_size));
    if (headers == nullptr) return;
    write_headers(r, headers);
    st->pending_headers = ngx_str_t{header_size, headers};
    st->store_key = key;
    st->deferred = true;
    st->storing = true;
    return;
  }
  st->slot = st->zone->store.reserve(to_view(key), st->meta, header_size,
                                     static_cast<std::size_t>(r->headers_out.content_length_n));
  if (!st->slot.valid()) return;
  write_headers(r, st->slot.headers);
  st->storing = true;
}

// Appends to the pool copy of a body of unknown length; false once it outgrows max_object.
bool gather(ngx_http_request_t* r, CacheState* st, const u_char* data, std::size_t size) noexcept {
  const std::size_t max = st->zone->max_object;
  if (size > max - st->body_size) return false;
  const std::size_t needed = st->body_size + size;
  if (needed > st->pending_capacity) {
    const std::size_t capacity =
        std::min(max, std::max({needed, std::size_t{16384}, st->pending_capacity * 2}));
    auto* grown = static_cast<u_char*>(ngx_palloc(r->pool, capacity));
    if (grown == nullptr) return false;
    if (st->body_size != 0) ngx_memcpy(grown, st->pending_body, st->body_size);
    if (st->pending_body != nullptr) ngx_pfree(r->pool, st->pending_body);
    st->pending_body = grown;
    st->pending_capacity = capacity;
  }
  if (size != 0) ngx_memcpy(st->pending_body + st->body_size, data, size);
  st->body_size = needed;
  return true;
}

void finish_store(ngx_http_request_t* r, CacheState* st) noexcept {
  st->storing = false;
  cache::CacheStore& store = st->zone->store;
  if (st->deferred) {
    st->slot =
        store.reserve(to_view(st->store_key), st->meta, st->pending_headers.len, st->body_size);
    if (!st->slot.valid()) {
      end_fill(st);
      return;
    }
    ngx_memcpy(st->slot.headers, st->pending_headers.data, st->pending_headers.len);
    if (st->body_size != 0) ngx_memcpy(st->slot.body, st->pending_body, st->body_size);
  }
  if (r->headers_out.content_length_n >= 0 &&
      static_cast<off_t>(st->body_size) != r->headers_out.content_length_n) {
    abort_slot(st);
    return;
  }
  if (store.publish(st->slot, st->body_size) && st->vary_marker) {
    cache::EntryMeta marker = st->meta;
    marker.flags = cache::kEntryVaryMarker;
    cache::Slot slot = store.reserve(to_view(st->base_key), marker, 0, 0);
    if (slot.valid()) store.publish(slot, 0);
  }
  end_fill(st);
}

// stale-if-error: an upstream error (5xx, which includes nginx's own 502/504 when the upstream
// cannot be reached or times out) for an expired entry still within its stale window is
// replaced by that entry. Looked up again here rather than kept pinned since the request went
// upstream: it may have been purged or evicted meanwhile, and then the error goes out.
bool serve_stale(ngx_http_request_t* r, CacheState* st) noexcept {
  if (st->status != CacheStatus::expired || r->headers_out.status < 500) return false;
  cache::CacheStore& store = st->zone->store;
  cache::Handle h = store.lookup(to_view(st->base_key));
  if (h.valid() && (h.meta.flags & cache::kEntryVaryMarker) != 0) {
    store.release(h);
    h = store.lookup(to_view(st->variant_key));
  }
  if (!h.valid()) return false;
  const std::int64_t now = ngx_time();
  if (!(now < h.meta.stale_until)) {
    store.release(h);
    return false;
  }
  const std::uint64_t age = cache::current_age(h.meta.initial_age, h.meta.response_time, now);
  CopiedEntry entry;
  if (copy_and_release(r->pool, store, h, &entry) != CopyResult::copied) return false;
  u_char* const copy = entry.bytes;
  const std::size_t header_size = entry.header_size;
  const std::size_t body_size = entry.body_size;
  const unsigned status = entry.status;

  // The error's headers go, except those the configuration adds to every response (add_header,
  // which ran before this filter; its $captain_cache_status read EXPIRED); the entry's come back.
  ngx_list_t old = r->headers_out.headers;
  if (ngx_list_init(&r->headers_out.headers, r->pool, 20, sizeof(ngx_table_elt_t)) != NGX_OK) {
    return false;
  }
  bool copied = true;
  for_each_header(&old, [&](ngx_table_elt_t& e) {
    if (e.hash != 1 || header_is(e, kXCache)) return;
    if (push_response_header(r, e.key, e.value) == nullptr) copied = false;
  });
  if (!copied) return false;
  ngx_http_clear_content_length(r);
  ngx_http_clear_last_modified(r);
  ngx_http_clear_etag(r);
  ngx_http_clear_location(r);
  r->headers_out.content_encoding = nullptr;
  r->headers_out.status_line.len = 0;
  if (restore_headers(r, copy, header_size) != NGX_OK) return false;
  r->headers_out.status = status;
  r->headers_out.content_length_n = static_cast<off_t>(body_size);
  auto* age_text = static_cast<u_char*>(ngx_pnalloc(r->pool, NGX_INT64_LEN));
  if (age_text == nullptr) return false;
  const ngx_str_t age_value{static_cast<size_t>(ngx_sprintf(age_text, "%uL", age) - age_text),
                            age_text};
  if (push_response_header(r, kAge, age_value) == nullptr) return false;

  st->stale_body = ngx_str_t{body_size, copy + header_size};
  st->serving_stale = true;
  st->status = CacheStatus::stale;
  store.record(Outcome::stale);
  return true;
}

// Sends the stale body once and swallows the error's own body.
ngx_int_t stale_body_filter(ngx_http_request_t* r, CacheState* st, ngx_chain_t* in) noexcept {
  for (ngx_chain_t* cl = in; cl != nullptr; cl = cl->next) {
    cl->buf->pos = cl->buf->last;
    cl->buf->file_pos = cl->buf->file_last;
  }
  if (st->stale_sent || r->header_only) return NGX_OK;
  st->stale_sent = true;
  auto* buf = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
  if (buf == nullptr) return NGX_ERROR;
  buf->pos = st->stale_body.data;
  buf->last = st->stale_body.data + st->stale_body.len;
  buf->memory = st->stale_body.len != 0 ? 1 : 0;
  buf->last_buf = 1;
  buf->last_in_chain = 1;
  ngx_chain_t out{buf, nullptr};
  return g_next_body_filter(r, &out);
}

ngx_int_t cache_header_filter(ngx_http_request_t* r) noexcept {
  if (r != r->main) return g_next_header_filter(r);
  RequestCtx* ctx = existing_request_ctx(r);
  CacheState* st = ctx != nullptr ? ctx->cache : nullptr;
  if (st == nullptr || st->status == CacheStatus::none) return g_next_header_filter(r);

  if (st->fill) {
    st->fill = false;
    if (!serve_stale(r, st)) begin_store(r, st);
    // Nothing to wait for: requests waiting on this key go upstream themselves.
    if (!st->storing) end_fill(st);
  }
  if (st->expired_uncounted) {
    st->expired_uncounted = false;
    if (st->status == CacheStatus::expired) st->zone->store.record(Outcome::expired);
  }
  // One X-Cache: ours (an upstream cache's own is dropped).
  for_each_header(&r->headers_out.headers, [](ngx_table_elt_t& h) {
    if (h.hash != 0 && header_is(h, kXCache)) h.hash = 0;
  });
  if (push_response_header(r, kXCache, cache_status_text(st->status)) == nullptr) {
    return NGX_ERROR;
  }
  return g_next_header_filter(r);
}

ngx_int_t cache_body_filter(ngx_http_request_t* r, ngx_chain_t* in) noexcept {
  if (r != r->main || in == nullptr) return g_next_body_filter(r, in);
  RequestCtx* ctx = existing_request_ctx(r);
  CacheState* st = ctx != nullptr ? ctx->cache : nullptr;
  if (st != nullptr && st->serving_stale) return stale_body_filter(r, st, in);
  if (st == nullptr || !st->storing) return g_next_body_filter(r, in);

  for (ngx_chain_t* cl = in; cl != nullptr; cl = cl->next) {
    const ngx_buf_t* b = cl->buf;
    if (ngx_buf_in_memory(b) && st->deferred) {
      if (!gather(r, st, b->pos, static_cast<std::size_t>(b->last - b->pos))) {
        abort_slot(st);  // larger than max_object: streamed untouched, not stored
        break;
      }
    } else if (ngx_buf_in_memory(b)) {
      const auto size = static_cast<std::size_t>(b->last - b->pos);
      if (size > st->slot.body_capacity - st->body_size) {
        abort_slot(st);  // larger than max_object: streamed untouched, not stored
        break;
      }
      ngx_memcpy(st->slot.body + st->body_size, b->pos, size);
      st->body_size += size;
    } else if (ngx_buf_size(b) != 0) {
      abort_slot(st);  // a body buffered to a temporary file is not copied
      break;
    }
    if (b->last_buf) {
      finish_store(r, st);
      break;
    }
  }
  return g_next_body_filter(r, in);
}

}  // namespace

ngx_str_t cache_status_text(CacheStatus status) noexcept {
  switch (status) {
    case CacheStatus::hit:
      return ngx_string("HIT");
    case CacheStatus::miss:
      return ngx_string("MISS");
    case CacheStatus::bypass:
      return ngx_string("BYPASS");
    case CacheStatus::expired:
      return ngx_string("EXPIRED");
    case CacheStatus::stale:
      return ngx_string("STALE");
    case CacheStatus::none:
      break;
  }
  return ngx_str_t{0, nullptr};
}

ngx_int_t init_cache(ngx_conf_t* cf) noexcept {
  g_next_header_filter = ngx_http_top_header_filter;
  ngx_http_top_header_filter = cache_header_filter;
  g_next_body_filter = ngx_http_top_body_filter;
  ngx_http_top_body_filter = cache_body_filter;
  return add_phase_handler(cf, NGX_HTTP_PRECONTENT_PHASE, cache_lookup);
}

}  // namespace captain::glue
