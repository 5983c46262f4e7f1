#include "ngx_module/glue/rate_limit_conf.h"

#include <cstdint>
#include <string>

#include "ngx_module/glue/conf_args.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/shm_region.h"

namespace captain::glue {

namespace {

using rate_limit::LimitTable;

// Shared memory names are global to nginx: ours carry a prefix so that a captain zone may share
// its name with a limit_req or upstream zone.
constexpr char kShmPrefix[] = "captain_limit:";

// Below this many pages a zone could hold only a handful of keys: surely a typo ("32" for "32k").
constexpr std::size_t kMinZonePages = 8;

// A zone named by captain_limit before (or without) its captain_limit_zone line.
LimitZone* add_zone(ngx_conf_t* cf, MainConf* mcf, const ngx_str_t& name) noexcept {
  auto** slot = static_cast<LimitZone**>(ngx_array_push(mcf->limit_zones));
  if (slot == nullptr) return nullptr;
  auto* zone = static_cast<LimitZone*>(ngx_pcalloc(cf->pool, sizeof(LimitZone)));
  if (zone == nullptr) return nullptr;
  new (&zone->table) LimitTable();
  zone->name = name;
  zone->first_use_file = cf->conf_file->file.name;
  zone->first_use_line = cf->conf_file->line;
  *slot = zone;
  return zone;
}

std::string describe(const rate_limit::Policy& p) {
  return std::to_string(p.requests) + " requests per " + std::to_string(p.period_ms) +
         " ms, burst " + std::to_string(p.burst);
}

// Was a zone of this name in the configuration being replaced? (its shared memory is gone when
// its size changed, so only the old cycle can tell).
bool existed_before(const ngx_shm_zone_t* zone) noexcept {
  const auto* old = const_cast<const ngx_cycle_t*>(ngx_cycle);
  if (old == nullptr) return false;
  const ngx_list_part_t* part = &old->shared_memory.part;
  const auto* zones = static_cast<const ngx_shm_zone_t*>(part->elts);
  for (ngx_uint_t i = 0;; ++i) {
    if (i >= part->nelts) {
      if (part->next == nullptr) return false;
      part = part->next;
      zones = static_cast<const ngx_shm_zone_t*>(part->elts);
      i = 0;
    }
    if (zones[i].tag == zone->tag && zones[i].shm.name.len == zone->shm.name.len &&
        ngx_strncmp(zones[i].shm.name.data, zone->shm.name.data, zone->shm.name.len) == 0) {
      return true;
    }
  }
}

ngx_int_t format_region(ngx_shm_zone_t* shm_zone, LimitZone* zone, ShmRegion* region) noexcept {
  zone->table = LimitTable::create(region->table(), region->table_bytes, zone->policy,
                                   zone_hash_seed(), ngx_current_msec);
  if (!zone->table.valid()) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_limit_zone \"%V\" is too small to hold any key", &zone->name);
    return NGX_ERROR;
  }
  return NGX_OK;
}

ngx_int_t init_zone(ngx_shm_zone_t* shm_zone, void* old_data) noexcept {
  auto* zone = static_cast<LimitZone*>(shm_zone->data);

  if (old_data != nullptr) {
    // nginx -s reload with the same size: the segment (and every key in it) is still there.
    ShmRegion* region = existing_region(shm_zone);
    zone->table = LimitTable::attach(region->table(), region->table_bytes);
    if (zone->table.valid() && zone->table.header().policy == zone->policy) return NGX_OK;

    try {
      const std::string was =
          zone->table.valid() ? describe(zone->table.header().policy) : "an older layout";
      const std::string now = describe(zone->policy);
      ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                    "captain_limit_zone \"%V\" re-created: %s, was %s; its keys start afresh",
                    &zone->name, now.c_str(), was.c_str());
    } catch (...) {
    }
    return format_region(shm_zone, zone, region);
  }

  if (existed_before(shm_zone)) {
    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "captain_limit_zone \"%V\" re-created: its size changed to %uz bytes; its keys "
                  "start afresh",
                  &zone->name, shm_zone->shm.size);
  }

  ShmRegion* region = allocate_region(shm_zone);
  if (region == nullptr) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_limit_zone \"%V\": could not allocate its table", &zone->name);
    return NGX_ERROR;
  }
  return format_region(shm_zone, zone, region);
}

// captain_limit_zone parameters, as read.
struct ZoneArgs {
  ngx_str_t name{0, nullptr};
  ssize_t size = NGX_ERROR;
  ngx_str_t size_text{0, nullptr};
  ngx_str_t key{0, nullptr};
  ngx_str_t rate{0, nullptr};
  ngx_int_t burst = 0;
};

}  // namespace

char* check_limit_zones_declared(ngx_conf_t* cf, MainConf* mcf) noexcept {
  auto** zones = static_cast<LimitZone**>(mcf->limit_zones->elts);
  for (ngx_uint_t i = 0; i < mcf->limit_zones->nelts; ++i) {
    if (zones[i]->key != nullptr) continue;
    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "unknown captain_limit_zone \"%V\" in \"captain_limit\" directive in %V:%ui",
                  &zones[i]->name, &zones[i]->first_use_file, zones[i]->first_use_line);
    return conf_error();
  }
  return NGX_CONF_OK;
}

char* set_limit_zone(ngx_conf_t* cf, ngx_command_t* cmd, void*) noexcept {
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  ZoneArgs zone_args;

  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    const ngx_str_t& arg = args[i];
    if (starts_with(arg, "name=")) {
      zone_args.name = value_after(arg, 5);
      if (zone_args.name.len == 0)
        return invalid_token(cf, cmd, "parameter", arg, "the name is empty");
    } else if (starts_with(arg, "size=")) {
      zone_args.size_text = value_after(arg, 5);
      zone_args.size = ngx_parse_size(&zone_args.size_text);
      if (zone_args.size == NGX_ERROR) {
        return invalid_token(cf, cmd, "size", zone_args.size_text, "expected a size such as 10m");
      }
    } else if (starts_with(arg, "key=")) {
      zone_args.key = value_after(arg, 4);
      if (zone_args.key.len == 0)
        return invalid_token(cf, cmd, "parameter", arg, "the key is empty");
    } else if (starts_with(arg, "rate=")) {
      zone_args.rate = value_after(arg, 5);
    } else if (starts_with(arg, "burst=")) {
      ngx_str_t burst = value_after(arg, 6);
      zone_args.burst = ngx_atoi(burst.data, burst.len);
      if (zone_args.burst == NGX_ERROR ||
          static_cast<std::uint64_t>(zone_args.burst) > rate_limit::kMaxBurst) {
        return invalid_token(cf, cmd, "burst", burst, "expected a number from 0 to 10000000");
      }
    } else {
      return invalid_token(cf, cmd, "parameter", arg,
                           "expected name=, size=, key=, rate= or burst=");
    }
  }

  const char* missing = zone_args.name.data == nullptr        ? "name="
                        : zone_args.size_text.data == nullptr ? "size="
                        : zone_args.key.data == nullptr       ? "key="
                        : zone_args.rate.data == nullptr      ? "rate="
                                                              : nullptr;
  if (missing != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive is missing the \"%s\" parameter",
                       &cmd->name, missing);
    return conf_error();
  }

  if (static_cast<std::size_t>(zone_args.size) < kMinZonePages * ngx_pagesize) {
    return invalid_token(cf, cmd, "size", zone_args.size_text, "it must be at least 32k");
  }

  try {
    const rate_limit::RateParse rate = rate_limit::parse_rate(to_view(zone_args.rate));
    if (!rate.ok) return invalid_token(cf, cmd, "rate", zone_args.rate, rate.error.c_str());
    const rate_limit::PolicyBuild built =
        rate_limit::make_policy(rate.rate, static_cast<std::uint64_t>(zone_args.burst));
    if (!built.ok) return invalid_token(cf, cmd, "rate", zone_args.rate, built.error.c_str());

    MainConf* mcf = main_conf(cf);
    LimitZone* zone = find_named_zone<LimitZone>(mcf->limit_zones, zone_args.name);
    if (zone != nullptr && zone->key != nullptr) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate captain_limit_zone \"%V\"",
                         &zone_args.name);
      return conf_error();
    }
    if (zone == nullptr && (zone = add_zone(cf, mcf, zone_args.name)) == nullptr) {
      return conf_error();
    }
    zone->policy = built.policy;

    zone->key = static_cast<ngx_http_complex_value_t*>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t)));
    if (zone->key == nullptr) return conf_error();
    ngx_http_compile_complex_value_t ccv{};
    ccv.cf = cf;
    ccv.value = &zone_args.key;
    ccv.complex_value = zone->key;
    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) return conf_error();

    zone->shm_zone = add_named_segment(cf, kShmPrefix, zone_args.name,
                                       static_cast<std::size_t>(zone_args.size), init_zone, zone);
    if (zone->shm_zone == nullptr) return conf_error();
  } catch (const std::exception& e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "captain: %s", e.what());
    return conf_error();
  }
  return NGX_CONF_OK;
}

namespace {

// "401,403" -> statuses; false on anything but 3-digit codes 100..599.
bool parse_failure_statuses(const ngx_str_t& list, LimitRule* rule) noexcept {
  rule->failure_status_count = 0;
  const u_char* p = list.data;
  const u_char* end = list.data + list.len;
  while (p <= end) {
    const u_char* comma = p;
    while (comma < end && *comma != ',') ++comma;
    const ngx_int_t status = ngx_atoi(const_cast<u_char*>(p), static_cast<size_t>(comma - p));
    if (comma - p != 3 || status < 100 || status > 599 ||
        rule->failure_status_count == kMaxFailureStatuses) {
      return false;
    }
    rule->failure_statuses[rule->failure_status_count++] = static_cast<ngx_uint_t>(status);
    p = comma + 1;
  }
  return rule->failure_status_count != 0;
}

// bypass=$var and failure_if=$var: compiled once, evaluated per request.
ngx_http_complex_value_t* compile_value(ngx_conf_t* cf, ngx_str_t value) noexcept {
  auto* cv = static_cast<ngx_http_complex_value_t*>(
      ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t)));
  if (cv == nullptr) return nullptr;
  ngx_http_compile_complex_value_t ccv{};
  ccv.cf = cf;
  ccv.value = &value;
  ccv.complex_value = cv;
  return ngx_http_compile_complex_value(&ccv) == NGX_OK ? cv : nullptr;
}

}  // namespace

char* add_limit(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* lcf = static_cast<LocConf*>(conf);
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);

  if (to_view(args[1]) == "off") {
    if (cf->args->nelts != 2 || (lcf->limits != nullptr && lcf->limits->nelts != 0)) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "\"%V off\" cannot be combined with other \"%V\" lines at one level",
                         &cmd->name, &cmd->name);
      return conf_error();
    }
    lcf->limits = ngx_array_create(cf->pool, 1, sizeof(LimitRule));
    lcf->limits_off = 1;
    return lcf->limits == nullptr ? conf_error() : NGX_CONF_OK;
  }
  if (lcf->limits_off) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V off\" cannot be combined with other \"%V\" lines at one level",
                       &cmd->name, &cmd->name);
    return conf_error();
  }

  if (lcf->limits == nullptr) {
    lcf->limits = ngx_array_create(cf->pool, 2, sizeof(LimitRule));
    if (lcf->limits == nullptr) return conf_error();
  }

  MainConf* mcf = main_conf(cf);
  LimitZone* zone = find_named_zone<LimitZone>(mcf->limit_zones, args[1]);
  if (zone == nullptr && (zone = add_zone(cf, mcf, args[1])) == nullptr) return conf_error();

  auto* existing = static_cast<LimitRule*>(lcf->limits->elts);
  for (ngx_uint_t i = 0; i < lcf->limits->nelts; ++i) {
    if (existing[i].zone == zone) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate \"%V\" for zone \"%V\" at one level",
                         &cmd->name, &args[1]);
      return conf_error();
    }
  }

  LimitRule rule{};
  rule.zone = zone;
  rule.reject_status = 429;
  rule.failure_status_count = 2;
  rule.failure_statuses[0] = 401;
  rule.failure_statuses[1] = 403;
  bool failure_status_given = false;

  for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) {
    const ngx_str_t& arg = args[i];
    if (to_view(arg) == "count=all") {
      rule.count_failures = 0;
    } else if (to_view(arg) == "count=failures") {
      rule.count_failures = 1;
    } else if (starts_with(arg, "count=")) {
      return invalid_token(cf, cmd, "count", value_after(arg, 6),
                           "it must be \"all\" or \"failures\"");
    } else if (starts_with(arg, "failure_status=")) {
      if (!parse_failure_statuses(value_after(arg, 15), &rule)) {
        return invalid_token(cf, cmd, "failure_status", value_after(arg, 15),
                             "expected up to 8 comma-separated status codes, e.g. 401,403");
      }
      failure_status_given = true;
    } else if (to_view(arg) == "dry_run") {
      rule.dry_run = 1;
    } else if (starts_with(arg, "status=")) {
      const ngx_str_t status = value_after(arg, 7);
      const ngx_int_t code = ngx_atoi(status.data, status.len);
      if (code < 400 || code > 599) {
        return invalid_token(cf, cmd, "status", status, "it must be between 400 and 599");
      }
      rule.reject_status = static_cast<ngx_uint_t>(code);
    } else if (starts_with(arg, "bypass=")) {
      ngx_str_t value = value_after(arg, 7);
      if (value.len == 0)
        return invalid_token(cf, cmd, "parameter", arg, "the bypass value is empty");
      rule.bypass = compile_value(cf, value);
      if (rule.bypass == nullptr) return conf_error();
    } else if (starts_with(arg, "failure_if=")) {
      ngx_str_t value = value_after(arg, 11);
      if (value.len == 0)
        return invalid_token(cf, cmd, "parameter", arg, "the failure_if value is empty");
      rule.failure_if = compile_value(cf, value);
      if (rule.failure_if == nullptr) return conf_error();
    } else {
      return invalid_token(
          cf, cmd, "parameter", arg,
          "expected count=, failure_status=, failure_if=, dry_run, status= or bypass=");
    }
  }

  if (!rule.count_failures && (failure_status_given || rule.failure_if != nullptr)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%s\" in \"%V\" directive needs \"count=failures\"",
                       failure_status_given ? "failure_status=" : "failure_if=", &cmd->name);
    return conf_error();
  }

  auto* slot = static_cast<LimitRule*>(ngx_array_push(lcf->limits));
  if (slot == nullptr) return conf_error();
  *slot = rule;
  return NGX_CONF_OK;
}

char* set_limit_headers(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->limit_headers != NGX_CONF_UNSET_UINT) return const_cast<char*>("is duplicate");

  const ngx_str_t& arg = static_cast<ngx_str_t*>(cf->args->elts)[1];
  const std::string_view v = to_view(arg);
  LimitHeaders headers;
  if (v == "legacy") {
    headers = LimitHeaders::legacy;
  } else if (v == "ietf") {
    headers = LimitHeaders::ietf;
  } else if (v == "both") {
    headers = LimitHeaders::both;
  } else if (v == "off") {
    headers = LimitHeaders::off;
  } else {
    return invalid_token(cf, cmd, "value", arg,
                         "it must be \"legacy\", \"ietf\", \"both\" or \"off\"");
  }
  lcf->limit_headers = static_cast<ngx_uint_t>(headers);
  return NGX_CONF_OK;
}

void init_limit_zones_in_worker(ngx_cycle_t* cycle) noexcept {
  if (cycle->conf_ctx[ngx_http_module.index] == nullptr) return;  // no http{} block
  auto* mcf =
      static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_captain_module));
  if (mcf == nullptr) return;
  auto** zones = static_cast<LimitZone**>(mcf->limit_zones->elts);
  for (ngx_uint_t i = 0; i < mcf->limit_zones->nelts; ++i) {
    zones[i]->table.set_worker(ngx_worker);
    // Only evictions from now on are news to this worker (the count survives reloads).
    if (zones[i]->table.valid()) zones[i]->evictions_warned = zones[i]->table.stripe_evictions();
  }
}

}  // namespace captain::glue
