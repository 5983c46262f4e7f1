// Rate limiting configuration: captain_limit_zone (shared memory zones), captain_limit (the
// limits a location applies) and captain_limit_headers.
#pragma once

#include "ngx_module/core/rate_limit/limit_table.h"
#include "ngx_module/core/rate_limit/policy.h"
#include "ngx_module/glue/main_conf.h"
#include "ngx_module/glue/ngx.h"

namespace captain::glue {

// One captain_limit_zone, in the configuration pool. `table` is this process's view of the
// zone's shared memory, set when the zone is initialized.
struct LimitZone {
  ngx_str_t name;
  ngx_shm_zone_t* shm_zone;
  ngx_http_complex_value_t* key;  // NULL until the zone is declared
  rate_limit::Policy policy;
  rate_limit::LimitTable table;
  // Where the first captain_limit naming the zone is, for "unknown zone" errors reported once
  // the whole configuration has been read (zones may be declared after their first use).
  ngx_str_t first_use_file;
  ngx_uint_t first_use_line;
  // This worker's "zone is full" warning: at most one a minute (process-local).
  std::uint64_t evictions_warned;
  ngx_msec_t last_full_warning;
};

inline constexpr ngx_uint_t kMaxFailureStatuses = 8;

// One captain_limit line.
struct LimitRule {
  LimitZone* zone;
  ngx_flag_t count_failures;
  ngx_uint_t failure_status_count;
  ngx_uint_t failure_statuses[kMaxFailureStatuses];
  // failure_if=$var: also a failure when the value is non-empty and not "0" once the response
  // headers are known (APIs that answer 200 and report the failure in the body). NULL: unused.
  ngx_http_complex_value_t* failure_if;
  ngx_flag_t dry_run;
  ngx_uint_t reject_status;
  ngx_http_complex_value_t* bypass;  // NULL: never bypassed
};

enum class LimitHeaders : ngx_uint_t { off = 0, legacy = 1, ietf = 2, both = 3 };

// Every zone a captain_limit names was declared by a captain_limit_zone (checked once the http{}
// block is read, since zones may be declared after their first use).
char* check_limit_zones_declared(ngx_conf_t* cf, MainConf* mcf) noexcept;

char* set_limit_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* add_limit(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;
char* set_limit_headers(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept;

// Points every zone's counters at this worker's stripe; called in each worker at start.
void init_limit_zones_in_worker(ngx_cycle_t* cycle) noexcept;

}  // namespace captain::glue
