#include "ngx_module/glue/metrics_conf.h"

#include <string>
#include <string_view>

#include "ngx_module/glue/conf_args.h"
#include "ngx_module/glue/loc_conf.h"
#include "ngx_module/glue/main_conf.h"
#include "ngx_module/glue/shm_region.h"
#include "ngx_module/glue/status_handler.h"

namespace captain::glue {

namespace {

using metrics::MetricsTable;

constexpr char kShmPrefix[] = "captain_metrics:";
const ngx_str_t kNoServerName = ngx_string("_");
const ngx_str_t kServerLevelRoute = ngx_string("_");

ngx_int_t bind(ngx_shm_zone_t* shm_zone, MetricsZone* zone) noexcept {
  const ngx_uint_t count = zone->routes->nelts;
  auto** routes = static_cast<MetricsRoute**>(zone->routes->elts);
  // Scratch for one call, in the master at configuration time.
  auto* names = static_cast<metrics::RouteName*>(
      ngx_alloc(sizeof(metrics::RouteName) * (count + 1), shm_zone->shm.log));
  auto* slots = static_cast<std::uint32_t*>(
      ngx_alloc(sizeof(std::uint32_t) * (count + 1), shm_zone->shm.log));
  if (names == nullptr || slots == nullptr) {
    ngx_free(names);
    ngx_free(slots);
    return NGX_ERROR;
  }
  for (ngx_uint_t i = 0; i < count; ++i) {
    names[i] = metrics::RouteName{to_view(routes[i]->server), to_view(routes[i]->route)};
  }
  const bool bound = zone->table.bind_routes(names, count, slots);
  if (bound) {
    for (ngx_uint_t i = 0; i < count; ++i) routes[i]->slot = slots[i];
  }
  ngx_free(names);
  ngx_free(slots);
  if (!bound) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_metrics_zone \"%V\" is too small for %ui routes: it holds %uz; each "
                  "route needs about %uz bytes",
                  &zone->name, count, zone->table.route_capacity(), MetricsTable::bytes_needed(1));
    return NGX_ERROR;
  }
  return NGX_OK;
}

ngx_int_t init_zone(ngx_shm_zone_t* shm_zone, void* old_data) noexcept {
  auto* zone = static_cast<MetricsZone*>(shm_zone->data);

  ShmRegion* region = nullptr;
  if (old_data != nullptr) {
    // nginx -s reload with the same size: keep the counters when the buckets are the same.
    region = existing_region(shm_zone);
    zone->table = MetricsTable::attach(region->table(), region->table_bytes);
    if (zone->table.valid() && zone->table.same_buckets(zone->buckets)) {
      return bind(shm_zone, zone);
    }
    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "captain_metrics_zone \"%V\" re-created: its buckets changed; counters start "
                  "at zero",
                  &zone->name);
  } else if ((region = allocate_region(shm_zone)) == nullptr) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_metrics_zone \"%V\": could not allocate its table", &zone->name);
    return NGX_ERROR;
  }
  zone->table = MetricsTable::create(region->table(), region->table_bytes, zone->buckets);
  if (!zone->table.valid()) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "captain_metrics_zone \"%V\" is too small for one route; each route needs "
                  "about %uz bytes",
                  &zone->name, MetricsTable::bytes_needed(1));
    return NGX_ERROR;
  }
  return bind(shm_zone, zone);
}

ngx_str_t server_label(ngx_conf_t* cf) noexcept {
  auto* cscf = static_cast<ngx_http_core_srv_conf_t*>(
      ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module));
  if (cscf == nullptr || cscf->server_names.nelts == 0) return kNoServerName;
  const auto* names = static_cast<ngx_http_server_name_t*>(cscf->server_names.elts);
  return names[0].name.len != 0 ? names[0].name : kNoServerName;
}

ngx_str_t location_label(ngx_conf_t* cf) noexcept {
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  if (clcf == nullptr || clcf->name.len == 0) return kServerLevelRoute;
  return clcf->name;
}

MetricsRoute* find_route(const MetricsZone* zone, const ngx_str_t& server,
                         const ngx_str_t& route) noexcept {
  auto** routes = static_cast<MetricsRoute**>(zone->routes->elts);
  for (ngx_uint_t i = 0; i < zone->routes->nelts; ++i) {
    if (to_view(routes[i]->server) == to_view(server) &&
        to_view(routes[i]->route) == to_view(route)) {
      return routes[i];
    }
  }
  return nullptr;
}

MetricsRoute* register_route(ngx_conf_t* cf, MetricsZone* zone, const ngx_str_t& server,
                             const ngx_str_t& route) noexcept {
  if (MetricsRoute* known = find_route(zone, server, route)) return known;

  // Series carry no zone label: the same server and route in two zones would print two
  // identical series, and Prometheus would keep only one of them.
  MainConf* mcf = main_conf(cf);
  auto** zones = static_cast<MetricsZone**>(mcf->metrics_zones->elts);
  for (ngx_uint_t i = 0; i < mcf->metrics_zones->nelts; ++i) {
    if (zones[i] == zone || find_route(zones[i], server, route) == nullptr) continue;
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "route \"%V\" of server \"%V\" is already counted in "
                       "captain_metrics_zone \"%V\"; one route can be counted in one zone only "
                       "(set another route=)",
                       &route, &server, &zones[i]->name);
    return nullptr;
  }
  if (!MetricsTable::name_fits(metrics::RouteName{to_view(server), to_view(route)})) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "captain_metrics: server \"%V\" and route \"%V\" are too long for a "
                       "series name (%uz bytes together at most); set a shorter route=",
                       &server, &route, metrics::kRouteNameBytes);
    return nullptr;
  }
  auto* entry = static_cast<MetricsRoute*>(ngx_pcalloc(cf->pool, sizeof(MetricsRoute)));
  auto** slot = static_cast<MetricsRoute**>(ngx_array_push(zone->routes));
  if (entry == nullptr || slot == nullptr) return nullptr;
  entry->server = server;
  entry->route = route;
  *slot = entry;
  return entry;
}

}  // namespace

char* set_metrics_zone(ngx_conf_t* cf, ngx_command_t* cmd, void*) noexcept {
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  ngx_str_t name{0, nullptr};
  ngx_str_t size_text{0, nullptr};
  ssize_t size = NGX_ERROR;
  metrics::Buckets buckets;
  buckets.count = sizeof(metrics::kDefaultBoundsUs) / sizeof(metrics::kDefaultBoundsUs[0]);
  for (std::size_t i = 0; i < buckets.count; ++i)
    buckets.bounds_us[i] = metrics::kDefaultBoundsUs[i];

  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    const ngx_str_t& arg = args[i];
    if (starts_with(arg, "name=")) {
      name = value_after(arg, 5);
      if (name.len == 0) return invalid_token(cf, cmd, "parameter", arg, "the name is empty");
    } else if (starts_with(arg, "size=")) {
      size_text = value_after(arg, 5);
      size = ngx_parse_size(&size_text);
      if (size == NGX_ERROR)
        return invalid_token(cf, cmd, "size", size_text, "expected a size such as 4m");
    } else if (starts_with(arg, "buckets=")) {
      // buckets=0.005 0.01 ...: the first bound in this token, the rest in the tokens after it.
      std::string_view bounds[metrics::kMaxBuckets + 1];
      std::size_t count = 0;
      bounds[count++] = to_view(value_after(arg, 8));
      while (i + 1 < cf->args->nelts &&
             ngx_strlchr(args[i + 1].data, args[i + 1].data + args[i + 1].len, '=') == nullptr) {
        ++i;
        if (count <= metrics::kMaxBuckets) bounds[count] = to_view(args[i]);
        ++count;
      }
      if (count > metrics::kMaxBuckets) {
        ngx_str_t extra = args[i];
        return invalid_token(cf, cmd, "buckets", extra, "at most 32 bucket bounds are allowed");
      }
      const metrics::BucketParse parsed = metrics::parse_buckets(bounds, count, &buckets);
      if (!parsed.ok) {
        const ngx_str_t bad = to_ngx_str(parsed.bad_token.data(), parsed.bad_token.size());
        return invalid_token(cf, cmd, "bucket", bad, parsed.error.c_str());
      }
    } else {
      return invalid_token(cf, cmd, "parameter", arg, "expected name=, size= or buckets=");
    }
  }
  if (name.data == nullptr || size_text.data == nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive is missing the \"%s\" parameter",
                       &cmd->name, name.data == nullptr ? "name=" : "size=");
    return conf_error();
  }
  if (static_cast<std::size_t>(size) < 8 * ngx_pagesize) {
    return invalid_token(cf, cmd, "size", size_text, "it must be at least 32k");
  }

  MainConf* mcf = main_conf(cf);
  if (find_named_zone<MetricsZone>(mcf->metrics_zones, name) != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate captain_metrics_zone \"%V\"", &name);
    return conf_error();
  }
  auto* zone = static_cast<MetricsZone*>(ngx_pcalloc(cf->pool, sizeof(MetricsZone)));
  auto** slot = static_cast<MetricsZone**>(ngx_array_push(mcf->metrics_zones));
  if (zone == nullptr || slot == nullptr) return conf_error();
  new (&zone->table) MetricsTable();
  zone->name = name;
  zone->buckets = buckets;
  zone->routes = ngx_array_create(cf->pool, 8, sizeof(MetricsRoute*));
  if (zone->routes == nullptr) return conf_error();

  zone->shm_zone =
      add_named_segment(cf, kShmPrefix, name, static_cast<std::size_t>(size), init_zone, zone);
  if (zone->shm_zone == nullptr) return conf_error();
  *slot = zone;
  return NGX_CONF_OK;
}

char* set_metrics(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* lcf = static_cast<LocConf*>(conf);
  if (lcf->metrics_zone != NGX_CONF_UNSET_PTR) return const_cast<char*>("is duplicate");
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);

  if (to_view(args[1]) == "off") {
    if (cf->args->nelts != 2)
      return invalid_token(cf, cmd, "parameter", args[2], "\"off\" takes none");
    lcf->metrics_zone = nullptr;
    return NGX_CONF_OK;
  }
  MetricsZone* zone = find_named_zone<MetricsZone>(main_conf(cf)->metrics_zones, args[1]);
  if (zone == nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown captain_metrics_zone \"%V\" in \"%V\" directive (declare it "
                       "before, in http{})",
                       &args[1], &cmd->name);
    return conf_error();
  }
  for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) {
    if (!starts_with(args[i], "route=") || args[i].len == 6) {
      return invalid_token(cf, cmd, "parameter", args[i], "expected route=<name>");
    }
    lcf->metrics_route_name = value_after(args[i], 6);
  }
  lcf->metrics_zone = zone;
  return NGX_CONF_OK;
}

char* set_status(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  auto* lcf = static_cast<LocConf*>(conf);
  auto* args = static_cast<ngx_str_t*>(cf->args->elts);
  if (to_view(cmd->name) == "captain_status_token") {
    if (lcf->status_token.data != nullptr) return const_cast<char*>("is duplicate");
    if (args[1].len == 0) return invalid_token(cf, cmd, "token", args[1], "the token is empty");
    lcf->status_token = args[1];
    return NGX_CONF_OK;
  }
  if (cf->args->nelts == 2) {
    if (to_view(args[1]) == "json") {
      lcf->status_json = 1;
    } else if (to_view(args[1]) != "prometheus") {
      return invalid_token(cf, cmd, "format", args[1], "it must be \"prometheus\" or \"json\"");
    }
  }
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  clcf->handler = status_handler;
  return NGX_CONF_OK;
}

char* merge_metrics(ngx_conf_t* cf, void* parent, void* child) noexcept {
  auto* prev = static_cast<LocConf*>(parent);
  auto* conf = static_cast<LocConf*>(child);
  if (conf->metrics_zone == NGX_CONF_UNSET_PTR) {
    conf->metrics_zone = prev->metrics_zone == NGX_CONF_UNSET_PTR ? nullptr : prev->metrics_zone;
    if (conf->metrics_route_name.data == nullptr)
      conf->metrics_route_name = prev->metrics_route_name;
  }
  if (conf->status_token.data == nullptr) conf->status_token = prev->status_token;
  if (conf->metrics_zone == nullptr) return NGX_CONF_OK;

  const ngx_str_t route =
      conf->metrics_route_name.data != nullptr ? conf->metrics_route_name : location_label(cf);
  conf->metrics_route =
      register_route(cf, static_cast<MetricsZone*>(conf->metrics_zone), server_label(cf), route);
  return conf->metrics_route != nullptr ? NGX_CONF_OK : conf_error();
}

}  // namespace captain::glue
