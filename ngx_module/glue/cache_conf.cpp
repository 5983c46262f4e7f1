#include "ngx_module/glue/cache_conf.h"

#include <algorithm>

#include "ngx_module/glue/conf_args.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/shm_region.h"

namespace captain::glue {

namespace {

// Shared memory names are global to nginx: ours carry a prefix so a cache zone may share its
// name with a proxy_cache or captain_limit zone.
constexpr char kShmPrefix[] = "captain_cache:";
constexpr std::size_t kMinZonePages = 8;
constexpr std::size_t kDefaultMaxObject = 1024 * 1024;
constexpr std::uint32_t kDefaultTtl = 300;

CacheZone* add_zone(ngx_conf_t* cf, MainConf* mcf, const ngx_str_t& name) noexcept {
  auto** slot = static_cast<CacheZone**>(ngx_array_push(mcf->cache_zones));
  if (slot == nullptr) return nullptr;
  auto* zone = static_cast<CacheZone*>(ngx_pcalloc(cf->pool, sizeof(CacheZone)));
  if (zone == nullptr) return nullptr;
  new (&zone->store) cache::CacheStore();
  zone->name = name;
  zone->max_object = kDefaultMaxObject;
  zone->default_ttl = kDefaultTtl;
  zone->first_use_file = cf->conf_file->file.name;
  zone->first_use_line = cf->conf_file->line;
  *slot = zone;
  return zone;
}

ngx_int_t init_zone(ngx_shm_zone_t* shm_zone, void* old_data) noexcept {
  auto* zone = static_cast<CacheZone*>(shm_zone->data);
  // A reload with the same size keeps the segment: open() re-attaches to the entries in it
  // (or formats it afresh when the layout version changed).
  ShmRegion* region = old_data != nullptr ? existing_region(shm_zone) : allocate_region(shm_zone);
  if (region == nullptr) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_cache_zone \"%V\": could not allocate its store", &zone->name);
    return NGX_ERROR;
  }
  zone->store = cache::CacheStore::open(region->table(), region->table_bytes, zone_hash_seed());
  if (!zone->store.valid()) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_cache_zone \"%V\" is too small to hold any entry", &zone->name);
    return NGX_ERROR;
  }
  return NGX_OK;
}

bool parse_seconds(ngx_str_t text, std::uint32_t* out) noexcept {
  const ngx_int_t s = ngx_parse_time(&text, 1);
  if (s == NGX_ERROR || s < 0 || s > 0x7fffffff) return false;
  *out = static_cast<std::uint32_t>(s);
  return true;
}

ngx_http_complex_value_t* compile(ngx_conf_t* cf, ngx_str_t* value) noexcept {
  auto* cv = static_cast<ngx_http_complex_value_t*>(
      ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t)));
  if (cv == nullptr) return nullptr;
  ngx_http_compile_complex_value_t ccv{};
  ccv.cf = cf;
  ccv.value = value;
  ccv.complex_value = cv;
  return ngx_http_compile_complex_value(&ccv) == NGX_OK ? cv : nullptr;
}

}  // namespace

char* set_cache_zone(ngx_conf_t* cf, ngx_command_t* cmd, void*) noexcept {
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  ngx_str_t name{0, nullptr};
  ngx_str_t size_text{0, nullptr};
  ssize_t size = NGX_ERROR;
  std::size_t max_object = 0;  // 0: not given
  std::uint32_t default_ttl = kDefaultTtl;

  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    const ngx_str_t& arg = args[i];
    if (starts_with(arg, "name=")) {
      name = value_after(arg, 5);
      if (name.len == 0) return invalid_token(cf, cmd, "parameter", arg, "the name is empty");
    } else if (starts_with(arg, "size=")) {
      size_text = value_after(arg, 5);
      size = ngx_parse_size(&size_text);
      if (size == NGX_ERROR) {
        return invalid_token(cf, cmd, "size", size_text, "expected a size such as 64m");
      }
    } else if (starts_with(arg, "max_object=")) {
      ngx_str_t text = value_after(arg, 11);
      const ssize_t m = ngx_parse_size(&text);
      if (m == NGX_ERROR || m == 0) {
        return invalid_token(cf, cmd, "max_object", text, "expected a size such as 1m");
      }
      max_object = static_cast<std::size_t>(m);
    } else if (starts_with(arg, "default_ttl=")) {
      if (!parse_seconds(value_after(arg, 12), &default_ttl)) {
        return invalid_token(cf, cmd, "default_ttl", value_after(arg, 12),
                             "expected a time such as 5m");
      }
    } else {
      return invalid_token(cf, cmd, "parameter", arg,
                           "expected name=, size=, max_object= or default_ttl=");
    }
  }

  const char* missing = name.data == nullptr        ? "name="
                        : size_text.data == nullptr ? "size="
                                                    : nullptr;
  if (missing != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive is missing the \"%s\" parameter",
                       &cmd->name, missing);
    return conf_error();
  }
  if (static_cast<std::size_t>(size) < kMinZonePages * ngx_pagesize) {
    return invalid_token(cf, cmd, "size", size_text, "it must be at least 32k");
  }
  if (max_object == 0) {
    // The default, 1m, but never more than an eighth of the zone.
    max_object = std::min(kDefaultMaxObject, static_cast<std::size_t>(size) / 8);
  } else if (max_object >= static_cast<std::size_t>(size)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"max_object=\" in \"%V\" directive must be smaller than \"size=\"",
                       &cmd->name);
    return conf_error();
  }

  MainConf* mcf = main_conf(cf);
  CacheZone* zone = find_named_zone<CacheZone>(mcf->cache_zones, name);
  if (zone != nullptr && zone->shm_zone != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate captain_cache_zone \"%V\"", &name);
    return conf_error();
  }
  if (zone == nullptr && (zone = add_zone(cf, mcf, name)) == nullptr) return conf_error();
  zone->max_object = max_object;
  zone->default_ttl = default_ttl;

  zone->shm_zone =
      add_named_segment(cf, kShmPrefix, name, static_cast<std::size_t>(size), init_zone, zone);
  if (zone->shm_zone == nullptr) return conf_error();
  return NGX_CONF_OK;
}

char* check_cache_zones_declared(ngx_conf_t* cf, MainConf* mcf) noexcept {
  auto** zones = static_cast<CacheZone**>(mcf->cache_zones->elts);
  for (ngx_uint_t i = 0; i < mcf->cache_zones->nelts; ++i) {
    if (zones[i]->shm_zone != nullptr) continue;
    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "unknown captain_cache_zone \"%V\" in \"captain_cache\" directive in %V:%ui",
                  &zones[i]->name, &zones[i]->first_use_file, zones[i]->first_use_line);
    return conf_error();
  }
  return NGX_CONF_OK;
}

char* set_cache(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->cache != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);

  if (to_view(args[1]) == "off") {
    if (cf->args->nelts != 2) {
      return invalid_token(cf, cmd, "parameter", args[2], "\"off\" takes no parameters");
    }
    lcf->cache = nullptr;
    return NGX_CONF_OK;
  }

  auto* loc = static_cast<CacheLoc*>(ngx_pcalloc(cf->pool, sizeof(CacheLoc)));
  if (loc == nullptr) return conf_error();
  new (&loc->policy) cache::StorePolicy();

  MainConf* mcf = main_conf(cf);
  loc->zone = find_named_zone<CacheZone>(mcf->cache_zones, args[1]);
  if (loc->zone == nullptr && (loc->zone = add_zone(cf, mcf, args[1])) == nullptr) {
    return conf_error();
  }

  ngx_str_t key = ngx_string("$scheme$host$request_uri");
  bool methods_given = false;
  bool statuses_given = false;
  // methods= and status= take the following bare tokens too: "methods=GET HEAD".
  enum class List { none, methods, statuses } list = List::none;

  for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) {
    const ngx_str_t& arg = args[i];
    ngx_str_t item{0, nullptr};
    if (starts_with(arg, "key=")) {
      list = List::none;
      key = value_after(arg, 4);
      if (key.len == 0) return invalid_token(cf, cmd, "parameter", arg, "the key is empty");
      continue;
    } else if (starts_with(arg, "ttl=")) {
      list = List::none;
      if (!parse_seconds(value_after(arg, 4), &loc->policy.default_ttl)) {
        return invalid_token(cf, cmd, "ttl", value_after(arg, 4), "expected a time such as 5m");
      }
      loc->ttl_given = true;
      continue;
    } else if (starts_with(arg, "stale_if_error=")) {
      list = List::none;
      if (!parse_seconds(value_after(arg, 15), &loc->policy.stale_if_error)) {
        return invalid_token(cf, cmd, "stale_if_error", value_after(arg, 15),
                             "expected a time such as 1h");
      }
      continue;
    } else if (starts_with(arg, "bypass=")) {
      list = List::none;
      ngx_str_t value = value_after(arg, 7);
      if (value.len == 0) {
        return invalid_token(cf, cmd, "parameter", arg, "the bypass value is empty");
      }
      if ((loc->bypass = compile(cf, &value)) == nullptr) return conf_error();
      continue;
    } else if (starts_with(arg, "methods=")) {
      list = List::methods;
      loc->policy.methods = 0;
      methods_given = true;
      item = value_after(arg, 8);
    } else if (starts_with(arg, "status=")) {
      list = List::statuses;
      loc->policy.status_count = 0;
      statuses_given = true;
      item = value_after(arg, 7);
    } else if (list != List::none && ngx_strlchr(arg.data, arg.data + arg.len, '=') == nullptr) {
      item = arg;
    } else {
      return invalid_token(cf, cmd, "parameter", arg,
                           "expected key=, ttl=, methods=, status=, stale_if_error= or bypass=");
    }

    if (list == List::methods) {
      const std::uint32_t bit = cache::method_bit(to_view(item));
      if (bit == 0) {
        return invalid_token(cf, cmd, "method", item, "expected GET, HEAD or POST");
      }
      loc->policy.methods |= bit;
    } else {
      const ngx_int_t code = ngx_atoi(item.data, item.len);
      if (item.len != 3 || code < 100 || code > 599) {
        return invalid_token(cf, cmd, "status", item, "expected a status code from 100 to 599");
      }
      if (loc->policy.status_count == cache::kMaxStatuses) {
        return invalid_token(cf, cmd, "status", item, "at most 16 statuses may be listed");
      }
      loc->policy.statuses[loc->policy.status_count++] = static_cast<std::uint16_t>(code);
    }
  }
  if ((methods_given && loc->policy.methods == 0) ||
      (statuses_given && loc->policy.status_count == 0)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "empty \"methods=\" or \"status=\" in \"%V\" directive", &cmd->name);
    return conf_error();
  }

  if ((loc->key = compile(cf, &key)) == nullptr) return conf_error();
  lcf->cache = loc;
  return NGX_CONF_OK;
}

}  // namespace captain::glue
