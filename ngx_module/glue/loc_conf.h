// Per-location configuration of ngx_http_captain_module and its merge across levels.
#pragma once

#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// One header of a compiled security policy, ready for the response filter: plain data in the
// configuration pool, no C++ objects.
struct PolicyHeader {
  ngx_str_t name;
  ngx_str_t value;
  bool hide;          // strip from upstream responses instead of adding
  bool hides_server;  // hiding "Server" also suppresses the one nginx writes itself
  bool if_absent;     // keep an upstream value
  bool tls_only;      // Strict-Transport-Security
};

// Headers as ready-made response header list elements, copied into a response in one go.
struct HeaderBlock {
  ngx_table_elt_t* elts;
  ngx_uint_t count;
};

struct CompiledPolicy {
  PolicyHeader* entries;  // hidden names first, then headers to add
  ngx_uint_t count;
  // What the policy adds to a response that has none of its headers yet (the common case).
  HeaderBlock plain;  // over plain HTTP: without the TLS-only headers
  HeaderBlock tls;
  bool hides_server;
};

// Declared by captain_security_header at one level (config time only).
struct HeaderDirective {
  ngx_str_t name;
  ngx_str_t value;
  ngx_uint_t if_absent;
};

// POD: nginx's offsetof-based setters write these fields.
struct LocConf {
  ngx_flag_t request_id;
  ngx_uint_t request_id_format;  // captain::RequestIdFormat
  ngx_flag_t response_time;
  ngx_flag_t trace;
  ngx_uint_t trace_sample_ppm;
  ngx_flag_t security_headers;

  ngx_array_t* header_directives;  // HeaderDirective declared at this level, or NULL
  ngx_array_t* hide_directives;    // ngx_str_t declared at this level, or NULL
  CompiledPolicy* policy;          // effective policy; shared with the parent when unchanged

  void* metrics_zone;            // MetricsZone*; NGX_CONF_UNSET_PTR: inherit; NULL: off
  ngx_str_t metrics_route_name;  // route= as given; empty: the location's name
  void* metrics_route;           // MetricsRoute* this location counts under, or NULL
  ngx_str_t status_token;        // captain_status_token; empty: none
  ngx_flag_t status_json;        // captain_status json

  ngx_array_t* limits;       // LimitRule (rate_limit_conf.h); NULL: inherit; empty: none
  ngx_flag_t limits_off;     // "captain_limit off" at this level
  ngx_uint_t limit_headers;  // LimitHeaders

  void* cache;  // CacheLoc* (cache_conf.h); NGX_CONF_UNSET_PTR: inherit; NULL: off
};

void* create_loc_conf(ngx_conf_t* cf) noexcept;
char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) noexcept;

inline LocConf* loc_conf(ngx_http_request_t* r) noexcept {
  return static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_captain_module));
}

}  // namespace captain::glue
